import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  AUDIT_ARCH_X86_64,
  DENIED_SYSCALLS,
  ENOSYS,
  EPERM,
  retErrno,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_KILL_PROCESS,
  type SockFilter,
  sandboxFilter,
  sandboxFilterBytes,
  X86_64_SYSCALLS,
} from '../src/host/seccomp.js';

/** A classic-BPF interpreter for the instructions the builder emits, run over a seccomp_data. */
function evaluate(prog: SockFilter[], data: { nr: number; arch?: number; arg0?: number }): number {
  const mem = Buffer.alloc(64);
  mem.writeUInt32LE(data.nr >>> 0, 0);
  mem.writeUInt32LE((data.arch ?? AUDIT_ARCH_X86_64) >>> 0, 4);
  mem.writeUInt32LE((data.arg0 ?? 0) >>> 0, 16);
  let a = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const ins = prog[pc] as SockFilter;
    if (ins.code === 0x20) a = mem.readUInt32LE(ins.k);
    else if (ins.code === 0x06) return ins.k;
    else {
      const taken =
        ins.code === 0x15
          ? a === ins.k
          : ins.code === 0x35
            ? a >= ins.k
            : ins.code === 0x45
              ? (a & ins.k) !== 0
              : NaN;
      if (Number.isNaN(taken)) throw new Error(`unknown opcode ${ins.code}`);
      pc += taken ? ins.jt : ins.jf;
    }
  }
  throw new Error('fell off the end');
}

const prog = sandboxFilter();
const run = (nr: number, arg0 = 0, arch?: number) => evaluate(prog, { nr, arg0, ...(arch ? { arch } : {}) });
const nr = X86_64_SYSCALLS;

describe('the bwrap seccomp filter', () => {
  test('every denied syscall gets EPERM; ordinary ones pass', () => {
    for (const name of DENIED_SYSCALLS) expect(run(nr[name]), name).toBe(retErrno(EPERM));
    for (const ok of [0, 1, 2, 3, 9, 57, 59, 61, 231, 434])
      expect(run(ok), String(ok)).toBe(SECCOMP_RET_ALLOW);
  });

  test('clone and unshare with namespace flags are refused, plain fork and threads pass; clone3 is ENOSYS', () => {
    const SIGCHLD = 17;
    const THREAD = 0x3d0f00; // glibc pthread_create's flags
    const CLONE_NEWUSER = 0x10000000;
    const CLONE_NEWNET = 0x40000000;
    expect(run(nr.clone, SIGCHLD)).toBe(SECCOMP_RET_ALLOW);
    expect(run(nr.clone, THREAD)).toBe(SECCOMP_RET_ALLOW);
    expect(run(nr.clone, SIGCHLD | CLONE_NEWUSER)).toBe(retErrno(EPERM));
    expect(run(nr.clone, CLONE_NEWNET)).toBe(retErrno(EPERM));
    expect(run(nr.unshare, CLONE_NEWUSER)).toBe(retErrno(EPERM));
    expect(run(nr.unshare, 0x80)).toBe(retErrno(EPERM)); // CLONE_NEWTIME
    expect(run(nr.unshare, 0x200)).toBe(SECCOMP_RET_ALLOW); // CLONE_FS
    expect(run(nr.clone3)).toBe(retErrno(ENOSYS));
  });

  test('personality: the query and PER_LINUX pass, anything else is refused', () => {
    expect(run(nr.personality, 0xffffffff)).toBe(SECCOMP_RET_ALLOW);
    expect(run(nr.personality, 0)).toBe(SECCOMP_RET_ALLOW);
    expect(run(nr.personality, 0x0040000)).toBe(retErrno(EPERM)); // ADDR_NO_RANDOMIZE
  });

  test('other architectures and the x32 ABI are killed', () => {
    expect(run(0, 0, 0x40000003)).toBe(SECCOMP_RET_KILL_PROCESS); // i386
    expect(run(0x40000000 + 1)).toBe(SECCOMP_RET_KILL_PROCESS);
  });

  test('encodes 8 bytes per instruction, and the numbers match the kernel headers where installed', () => {
    const bytes = sandboxFilterBytes();
    expect(bytes.length).toBe(prog.length * 8);
    expect(bytes.readUInt16LE(0)).toBe(prog[0]?.code);
    const header = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
    if (!existsSync(header)) return;
    const text = readFileSync(header, 'utf8');
    for (const [name, n] of Object.entries(nr)) {
      const m = new RegExp(`#define __NR_${name} (\\d+)`).exec(text);
      expect(m ? Number(m[1]) : n, name).toBe(n);
    }
  });
});
