import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { kernelCmdline, qemuArgs } from '../src/backends/qemu/qemu-args.js';
import { cpioNewc } from '../src/images/vm/cpio.js';
import { moduleDepends, orderModules } from '../src/images/vm/modules.js';
import { extractVmlinux, lz4LegacyDecompress } from '../src/images/vm/vmlinux.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-vm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fake ELF "kernel": ELF magic + compressible and random bytes. */
function fakeElf(): Buffer {
  return Buffer.concat([
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]),
    Buffer.alloc(300_000, 'abcabcabd'),
    randomBytes(70_000),
    Buffer.alloc(5000),
  ]);
}

/** A bzImage-like wrapper: a setup header, the compressed payload, trailing data. */
const wrap = (payload: Buffer): Buffer =>
  Buffer.concat([randomBytes(4096).fill(0x90, 0, 16), payload, Buffer.from('trailer')]);

describe('vmlinux extraction', () => {
  const elf = fakeElf();
  test('gzip payload', () => {
    const r = extractVmlinux(wrap(gzipSync(elf)));
    expect(r.format).toBe('gzip');
    expect(r.vmlinux.equals(elf)).toBe(true);
  });
  for (const [format, tool, args] of [
    ['lz4', 'lz4', ['-l', '-9', '-c']],
    ['xz', 'xz', ['-c', '--check=crc32']],
    ['zstd', 'zstd', ['-c', '-q']],
  ] as const) {
    test(`${format} payload (compressed by the ${tool} tool)`, () => {
      const packed = execFileSync(tool, args, { input: elf, maxBuffer: 64 * 1024 * 1024 });
      const r = extractVmlinux(wrap(packed));
      expect(r.format).toBe(format);
      expect(r.vmlinux.equals(elf)).toBe(true);
    });
  }
  test('lz4 legacy stream decodes byte-exact against the lz4 tool', () => {
    const data = Buffer.concat([randomBytes(1000), Buffer.alloc(20_000, 'xyz'), randomBytes(9_000_000)]);
    const packed = execFileSync('lz4', ['-l', '-c'], { input: data, maxBuffer: 64 * 1024 * 1024 });
    expect(lz4LegacyDecompress(packed).equals(data)).toBe(true);
  });
  test('no kernel inside is a VALIDATION_FAILED error', () => {
    expect(() => extractVmlinux(randomBytes(10_000))).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });
});

describe('initramfs pieces', () => {
  test('cpio newc archive lists what was put in it (checked with cpio -t)', () => {
    const archive = cpioNewc([
      { type: 'dir', path: 'bin' },
      { type: 'file', path: 'bin/hello', data: Buffer.from('hi\n'), mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'hello' },
      { type: 'file', path: 'init', data: Buffer.from('#!/bin/sh\n') },
    ]);
    const out = execFileSync('cpio', ['-t', '--quiet'], { input: archive }).toString().trim().split('\n');
    expect(out).toEqual(['bin', 'bin/hello', 'bin/sh', 'init']);
    expect(cpioNewc([{ type: 'dir', path: 'x' }]).equals(cpioNewc([{ type: 'dir', path: 'x' }]))).toBe(true);
  });
  test('modules are ordered after their dependencies, built-ins skipped', () => {
    const mod = (name: string, deps: string): string => {
      const p = join(dir, `${name}.ko`);
      writeFileSync(
        p,
        Buffer.concat([
          Buffer.from('\x7fELF junk\0license=GPL\0'),
          Buffer.from(`depends=${deps}\0`),
          Buffer.from('\0vermagic=6.1\0'),
        ]),
      );
      return p;
    };
    const files = new Map([
      ['virtio_ring', mod('virtio_ring', '')],
      ['virtio', mod('virtio', 'virtio_ring')],
      ['virtio_console', mod('virtio_console', 'virtio,virtio_ring')],
      ['erofs', mod('erofs', 'libcrc32c')],
      ['libcrc32c', mod('libcrc32c', 'crc32c_generic')],
    ]);
    expect(moduleDepends(readFileSync(files.get('virtio_console') as string))).toEqual([
      'virtio',
      'virtio_ring',
    ]);
    expect(orderModules({ wanted: ['virtio_console', 'erofs', 'overlay'], files })).toEqual([
      'virtio_ring',
      'virtio',
      'virtio_console',
      'libcrc32c',
      'erofs',
    ]);
  });
});

describe('qemu arguments', () => {
  const base = {
    accel: 'tcg' as const,
    vcpus: 2,
    memoryMb: 256,
    kernel: '/k',
    initrd: '/i',
    rootfs: '/r.erofs',
    tools: '/t.erofs',
    agentSocket: '/s/a.sock',
    qmpSocket: '/s/q.sock',
  };
  test('a microvm with no network, read-only drives, agent and QMP sockets', () => {
    const a = qemuArgs(base);
    const joined = a.join(' ');
    expect(joined).toContain('-M microvm,x-option-roms=off');
    expect(a).toContain('-nodefaults');
    expect(joined).not.toMatch(/netdev|-net |virtio-net/);
    expect(joined).toContain('id=rootfs,file=/r.erofs,format=raw,if=none,readonly=on');
    expect(joined).toContain('socket,id=agent,path=/s/a.sock,server=on,wait=off');
    expect(joined).toContain('unix:/s/q.sock,server=on,wait=off');
    expect(a).not.toContain('-incoming');
    const incoming = qemuArgs({ ...base, incoming: true });
    expect(incoming.slice(-2)).toEqual(['-incoming', 'defer']);
    expect(incoming).not.toContain('-kernel'); // the restored memory holds the booted kernel
    expect(joined).toContain('-kernel /k -initrd /i');
  });
  test('TCG gets a fixed TSC rate; KVM uses the probed cpu model', () => {
    expect(kernelCmdline(base)).toMatch(/tsc=reliable/);
    expect(kernelCmdline({ ...base, accel: 'kvm' })).not.toMatch(/tsc=reliable/);
    expect(qemuArgs({ ...base, accel: 'kvm', cpu: 'host,-arch-capabilities' }).join(' ')).toContain(
      '-cpu host,-arch-capabilities',
    );
  });
});
