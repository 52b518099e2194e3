import { readFileSync } from 'node:fs';

export type Accelerator = 'kvm' | 'tcg';

export interface QemuVmConfig {
  accel: Accelerator;
  /** `-cpu` model. @default 'host' under KVM, 'max' under TCG */
  cpu?: string;
  vcpus: number;
  memoryMb: number;
  /** bzImage for `-kernel`. */
  kernel: string;
  initrd: string;
  /** Read-only erofs of the image, /dev/vda in the guest. Absent for the accelerator probe. */
  rootfs?: string;
  /** Read-only erofs of the tools layer, /dev/vdb in the guest. */
  tools?: string;
  /** Unix socket QEMU listens on for the agent's virtio-serial port (the host connects). */
  agentSocket?: string;
  /** Unix socket QEMU listens on for QMP. */
  qmpSocket?: string;
  /**
   * The guest console (serial port) goes to QEMU's stdout, where the host keeps a bounded tail of
   * it; absent: discarded. Never a file: a guest can write to its console without end.
   */
  console?: boolean;
  /** Size of the guest's writable tmpfs. @default 256 */
  diskMb?: number;
  /** Extra kernel command-line words. */
  append?: string[];
  /** Start paused, waiting for QMP `migrate-incoming`. */
  incoming?: boolean;
  /**
   * Guest RAM in a file instead of anonymous memory. `shared: true` (a template VM) writes the
   * guest's pages to the file; `shared: false` (a clone) maps it privately, copy-on-write.
   */
  memoryFile?: { path: string; shared: boolean };
  /**
   * Guest RAM in anonymous memory under the name a file-backed VM gives it (`mem`): a VM restored
   * from a snapshot of a template's clone must name its RAM as the clone did, without mapping the
   * template's file (which a later template build replaces). Ignored when `memoryFile` is set.
   */
  namedRam?: boolean;
}

let tscKhz: number | undefined;

/**
 * The host's TSC rate in kHz. Under TCG the guest reads the host's TSC, and its own calibration
 * against the emulated PIT is unreliable (it sometimes marks the TSC unstable and stalls), so the
 * guest is told the rate instead.
 */
export function hostTscKhz(): number | undefined {
  if (tscKhz !== undefined) return tscKhz || undefined;
  try {
    const mhz = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
    tscKhz = mhz ? Math.round(Number(mhz) * 1000) : 0;
  } catch {
    tscKhz = 0;
  }
  return tscKhz || undefined;
}

/** The kernel command line for a hearth guest. */
export function kernelCmdline(cfg: QemuVmConfig): string {
  const words = [
    'console=ttyS0',
    'quiet',
    'panic=-1',
    'reboot=t',
    'pci=off',
    'nomodeset',
    'random.trust_cpu=on',
  ];
  if (cfg.accel === 'tcg') {
    const khz = hostTscKhz();
    words.push('tsc=reliable', 'no_timer_check');
    if (khz) words.push(`tsc_early_khz=${khz}`);
  }
  words.push(`hearth.disk_mb=${cfg.diskMb ?? 256}`, ...(cfg.append ?? []));
  return words.join(' ');
}

/**
 * QEMU's seccomp filter: no obsolete syscalls, no set*id (QEMU never changes its user; the exec
 * shim did before it started), no fork/exec (migration goes to inherited fds, not `exec:`), no
 * scheduler or affinity changes.
 */
export const QEMU_SANDBOX = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny';

/** The full `qemu-system-x86_64` argument list for one microVM. */
export function qemuArgs(cfg: QemuVmConfig): string[] {
  const machine = `microvm,x-option-roms=off,isa-serial=on,rtc=on${cfg.memoryFile || cfg.namedRam ? ',memory-backend=mem' : ''}`;
  const args = [
    '-M',
    machine,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-sandbox',
    QEMU_SANDBOX,
    '-accel',
    cfg.accel === 'kvm' ? 'kvm' : 'tcg,thread=multi,tb-size=64',
    '-cpu',
    cfg.cpu ?? (cfg.accel === 'kvm' ? 'host' : 'max'),
    '-smp',
    String(cfg.vcpus),
    '-m',
    `${cfg.memoryMb}M`,
    // A restored VM's memory already holds the booted kernel: QEMU need not load the kernel and
    // initramfs again (they would cost each clone their size in QEMU's own memory).
    ...(cfg.incoming ? [] : ['-kernel', cfg.kernel, '-initrd', cfg.initrd, '-append', kernelCmdline(cfg)]),
    '-serial',
    cfg.console ? 'stdio' : 'null',
  ];
  // virtio-serial first, so its port is the guest's vport0p1 whenever possible.
  if (cfg.agentSocket) {
    args.push(
      '-device',
      'virtio-serial-device,max_ports=2',
      '-chardev',
      `socket,id=agent,path=${cfg.agentSocket},server=on,wait=off`,
      '-device',
      'virtserialport,chardev=agent,name=hearth.agent,nr=1',
    );
  }
  for (const [id, file] of [
    ['rootfs', cfg.rootfs],
    ['tools', cfg.tools],
  ] as const) {
    if (!file) continue;
    args.push(
      '-drive',
      `id=${id},file=${file},format=raw,if=none,readonly=on,cache=unsafe`,
      '-device',
      `virtio-blk-device,drive=${id}`,
    );
  }
  if (cfg.memoryFile) {
    const { path, shared } = cfg.memoryFile;
    args.push(
      '-object',
      `memory-backend-file,id=mem,size=${cfg.memoryMb}M,mem-path=${path.replace(/,/g, ',,')},share=${shared ? 'on' : 'off'}`,
    );
  } else if (cfg.namedRam) {
    args.push('-object', `memory-backend-ram,id=mem,size=${cfg.memoryMb}M`);
  }
  if (cfg.qmpSocket) args.push('-qmp', `unix:${cfg.qmpSocket},server=on,wait=off`);
  if (cfg.incoming) args.push('-incoming', 'defer');
  return args;
}
