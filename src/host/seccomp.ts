/**
 * The seccomp filter of every bwrap sandbox, as the classic BPF program bwrap's `--seccomp FD`
 * loads (an array of `struct sock_filter`). Modelled on Docker's default profile for a process
 * without capabilities, as a deny list: the syscalls that reach kernel surface a sandboxed program
 * has no use for (tracing, other processes' memory, keyrings, io_uring, bpf, perf, userfaultfd,
 * mounts, namespaces, modules, kexec, clocks, swap). Any architecture but x86_64, and the x32 ABI,
 * kill the process: their syscall numbers would slip past the list. Built here rather than with
 * libseccomp so that nothing has to be installed, and tested instruction by instruction.
 */

/** x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
export const X86_64_SYSCALLS = {
  personality: 135,
  clone: 56,
  clone3: 435,
  unshare: 272,
  setns: 308,
  ptrace: 101,
  process_vm_readv: 310,
  process_vm_writev: 311,
  process_madvise: 440,
  pidfd_getfd: 438,
  kcmp: 312,
  keyctl: 250,
  add_key: 248,
  request_key: 249,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  bpf: 321,
  perf_event_open: 298,
  userfaultfd: 323,
  mount: 165,
  umount2: 166,
  pivot_root: 155,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  mount_setattr: 442,
  open_by_handle_at: 304,
  name_to_handle_at: 303,
  init_module: 175,
  finit_module: 313,
  delete_module: 176,
  kexec_load: 246,
  kexec_file_load: 320,
  reboot: 169,
  swapon: 167,
  swapoff: 168,
  acct: 163,
  settimeofday: 164,
  clock_settime: 227,
  clock_adjtime: 305,
  iopl: 172,
  ioperm: 173,
  quotactl: 179,
  quotactl_fd: 443,
  lookup_dcookie: 212,
  syslog: 103,
  uselib: 134,
  ustat: 136,
  sysfs: 139,
  _sysctl: 156,
  vhangup: 153,
} as const;

export type SyscallName = keyof typeof X86_64_SYSCALLS;

/** Refused outright with EPERM. clone, unshare and personality are checked by argument instead. */
export const DENIED_SYSCALLS: readonly SyscallName[] = (Object.keys(X86_64_SYSCALLS) as SyscallName[]).filter(
  (n) => !['personality', 'clone', 'clone3', 'unshare'].includes(n),
);

export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** The lowest checked syscall number after clone (56): ptrace (101). */
const FIRST_CHECKED_ABOVE_CLONE = Math.min(
  ...Object.values(X86_64_SYSCALLS).filter((n) => n > X86_64_SYSCALLS.clone),
);
const X32_SYSCALL_BIT = 0x40000000;
/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET; in clone(2)'s low byte 0x80 is the exit signal. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;
/** The same for unshare(2), plus CLONE_NEWTIME (0x80). */
export const UNSHARE_NAMESPACE_FLAGS = CLONE_NAMESPACE_FLAGS | 0x80;
/** personality(2) values Docker allows: PER_LINUX, UNAME26, PER_LINUX32 and their mix, and the query. */
const ALLOWED_PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
export const EPERM = 1;
export const ENOSYS = 38;
export const retErrno = (errno: number): number => (SECCOMP_RET_ERRNO | errno) >>> 0;

// struct seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8i (low half first on little-endian).
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0_LOW = 16;

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;

export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

type Target = string | null; // a label, or null for the next instruction
type Draft = { code: number; k: number; jt?: Target; jf?: Target; label?: string };

/** Resolves labels to the forward offsets classic BPF wants (at most 255 instructions ahead). */
function assemble(draft: Draft[]): SockFilter[] {
  const at = new Map<string, number>();
  for (const [i, d] of draft.entries()) if (d.label) at.set(d.label, i);
  return draft.map((d, i) => {
    const offset = (t: Target | undefined): number => {
      if (t === undefined || t === null) return 0;
      const to = at.get(t);
      if (to === undefined || to <= i || to - i - 1 > 255) throw new Error(`seccomp: bad jump to ${t}`);
      return to - i - 1;
    };
    return { code: d.code, jt: offset(d.jt), jf: offset(d.jf), k: d.k >>> 0 };
  });
}

/** The filter's instructions. */
export function sandboxFilter(): SockFilter[] {
  const nr = X86_64_SYSCALLS;
  const d: Draft[] = [
    { code: LD_W_ABS, k: OFF_ARCH },
    { code: JEQ_K, k: AUDIT_ARCH_X86_64, jt: null, jf: 'kill' },
    { code: LD_W_ABS, k: OFF_NR },
    { code: JGE_K, k: X32_SYSCALL_BIT, jt: 'kill', jf: null },
    { code: JEQ_K, k: nr.clone, jt: 'clone', jf: null },
    // Fast path: below ptrace nothing else is checked, and the hottest syscalls (read, write,
    // mmap, close, poll, …) live there.
    { code: JGE_K, k: FIRST_CHECKED_ABOVE_CLONE, jt: null, jf: 'allow' },
    { code: JEQ_K, k: nr.unshare, jt: 'unshare', jf: null },
    { code: JEQ_K, k: nr.personality, jt: 'personality', jf: null },
    // clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone.
    { code: JEQ_K, k: nr.clone3, jt: 'enosys', jf: null },
    ...DENIED_SYSCALLS.map((n): Draft => ({ code: JEQ_K, k: nr[n], jt: 'eperm', jf: null })),
    { code: RET_K, k: SECCOMP_RET_ALLOW },
    { label: 'clone', code: LD_W_ABS, k: OFF_ARG0_LOW },
    { code: JSET_K, k: CLONE_NAMESPACE_FLAGS, jt: 'eperm', jf: 'allow' },
    { label: 'unshare', code: LD_W_ABS, k: OFF_ARG0_LOW },
    { code: JSET_K, k: UNSHARE_NAMESPACE_FLAGS, jt: 'eperm', jf: 'allow' },
    { label: 'personality', code: LD_W_ABS, k: OFF_ARG0_LOW },
    ...ALLOWED_PERSONALITIES.map((p): Draft => ({ code: JEQ_K, k: p, jt: 'allow', jf: null })),
    { code: RET_K, k: retErrno(EPERM) },
    { label: 'allow', code: RET_K, k: SECCOMP_RET_ALLOW },
    { label: 'eperm', code: RET_K, k: retErrno(EPERM) },
    { label: 'enosys', code: RET_K, k: retErrno(ENOSYS) },
    { label: 'kill', code: RET_K, k: SECCOMP_RET_KILL_PROCESS },
  ];
  return assemble(d);
}

/** The filter as bwrap reads it from `--seccomp FD`: 8 bytes per instruction, host byte order. */
export function sandboxFilterBytes(): Buffer {
  cached ??= encode(sandboxFilter());
  return cached;
}
let cached: Buffer | undefined;

function encode(prog: SockFilter[]): Buffer {
  const b = Buffer.alloc(prog.length * 8);
  prog.forEach((ins, i) => {
    b.writeUInt16LE(ins.code, i * 8);
    b.writeUInt8(ins.jt, i * 8 + 2);
    b.writeUInt8(ins.jf, i * 8 + 3);
    b.writeUInt32LE(ins.k, i * 8 + 4);
  });
  return b;
}
