/**
 * The Firecracker driver against a recording HTTP server on a unix socket that stands in for the
 * firecracker binary, which cannot be installed on this host (no registry ships it here).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FirecrackerApi } from '../src/backends/firecracker/api-client.js';
import { bootVm, createSnapshot, GUEST_CID, loadSnapshot } from '../src/backends/firecracker/driver.js';
import { createFirecrackerBackend } from '../src/backends/firecracker/firecracker-backend.js';
import { HearthError } from '../src/errors/hearth-error.js';

interface Recorded {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
}

let dir: string;
let server: Server;
let recorded: Recorded[];
let failPath: string | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-fc-'));
  recorded = [];
  failPath = undefined;
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      recorded.push({
        method: req.method ?? '',
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: text ? JSON.parse(text) : undefined,
      });
      if (req.url === failPath) {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ fault_message: 'Invalid kernel path' }));
        return;
      }
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(join(dir, 'api.sock'), r));
});

afterEach(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const cfg = () => ({
  vmlinux: '/k/vmlinux',
  initrd: '/k/initramfs.cpio',
  rootfs: '/i/rootfs.erofs',
  tools: '/t/tools.erofs',
  vcpus: 2,
  memoryMb: 256,
  diskMb: 128,
  vsockPath: join(dir, 'vsock.sock'),
});

describe('firecracker driver (recording server standing in for the firecracker binary)', () => {
  test('boot sends boot-source, drives, machine-config, vsock, then InstanceStart, with exact bodies', async () => {
    await bootVm(new FirecrackerApi({ socketPath: join(dir, 'api.sock') }), cfg());
    expect(recorded.map((r) => `${r.method} ${r.path}`)).toEqual([
      'PUT /boot-source',
      'PUT /drives/rootfs',
      'PUT /drives/tools',
      'PUT /machine-config',
      'PUT /vsock',
      'PUT /actions',
    ]);
    expect(recorded.every((r) => r.contentType === 'application/json')).toBe(true);
    expect(recorded[0]?.body).toEqual({
      kernel_image_path: '/k/vmlinux',
      initrd_path: '/k/initramfs.cpio',
      boot_args: 'console=ttyS0 quiet panic=-1 reboot=k pci=off hearth.disk_mb=128 hearth.channel=vsock',
    });
    expect(recorded[1]?.body).toEqual({
      drive_id: 'rootfs',
      path_on_host: '/i/rootfs.erofs',
      is_root_device: false,
      is_read_only: true,
    });
    expect(recorded[2]?.body).toEqual({
      drive_id: 'tools',
      path_on_host: '/t/tools.erofs',
      is_root_device: false,
      is_read_only: true,
    });
    expect(recorded[3]?.body).toEqual({ vcpu_count: 2, mem_size_mib: 256, smt: false });
    expect(recorded[4]?.body).toEqual({ guest_cid: GUEST_CID, uds_path: join(dir, 'vsock.sock') });
    expect(recorded[5]?.body).toEqual({ action_type: 'InstanceStart' });
  });

  test('snapshot create pauses first; load maps the memory file and resumes', async () => {
    const api = new FirecrackerApi({ socketPath: join(dir, 'api.sock') });
    await createSnapshot(api, { statePath: '/s/vm.state', memPath: '/s/vm.mem' });
    await loadSnapshot(api, { statePath: '/s/vm.state', memPath: '/s/vm.mem' });
    expect(recorded).toEqual([
      { method: 'PATCH', path: '/vm', contentType: 'application/json', body: { state: 'Paused' } },
      {
        method: 'PUT',
        path: '/snapshot/create',
        contentType: 'application/json',
        body: { snapshot_type: 'Full', snapshot_path: '/s/vm.state', mem_file_path: '/s/vm.mem' },
      },
      {
        method: 'PUT',
        path: '/snapshot/load',
        contentType: 'application/json',
        body: {
          snapshot_path: '/s/vm.state',
          mem_backend: { backend_type: 'File', backend_path: '/s/vm.mem' },
          resume_vm: true,
        },
      },
    ]);
  });

  test('a fault answer stops the sequence with its fault_message', async () => {
    failPath = '/boot-source';
    const err = await bootVm(new FirecrackerApi({ socketPath: join(dir, 'api.sock') }), cfg()).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HearthError);
    expect((err as HearthError).code).toBe('SANDBOX_START_FAILED');
    expect((err as HearthError).message).toContain('Invalid kernel path');
    expect(recorded).toHaveLength(1);
  });

  test('a socket nobody listens on is a clear error, not a hang', async () => {
    const api = new FirecrackerApi({ socketPath: join(dir, 'nothing.sock'), timeoutMs: 2_000 });
    await expect(api.put('/actions', { action_type: 'InstanceStart' })).rejects.toMatchObject({
      code: 'SANDBOX_START_FAILED',
    });
  });
});

describe('firecracker backend without the binary', () => {
  test('probe says the binary is not installed, create refuses with BACKEND_UNAVAILABLE', async () => {
    const saved = process.env.HEARTH_FIRECRACKER;
    process.env.HEARTH_FIRECRACKER = join(dir, 'no-such-firecracker');
    try {
      const backend = createFirecrackerBackend({});
      const probe = await backend.probe();
      expect(probe.usable).toBe(false);
      expect(probe.reason).toContain('firecracker binary not installed');
      await expect(backend.create({ image: 'default' })).rejects.toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
      });
    } finally {
      if (saved === undefined) delete process.env.HEARTH_FIRECRACKER;
      else process.env.HEARTH_FIRECRACKER = saved;
    }
  });
});
