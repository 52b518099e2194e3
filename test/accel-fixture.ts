import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A stand-in for QEMU under a KVM that hangs (as under some nested hypervisors, where a stock
 * guest never runs): it answers `--version` like the real QEMU, and otherwise records its pid in
 * `pidFile` and sleeps without ever printing anything. Use it as HEARTH_QEMU or `chooseAccel`'s
 * `qemu`, with a device that opens (such as /dev/null) as HEARTH_KVM_DEVICE.
 */
export function hangingQemu(dir: string): { bin: string; pidFile: string } {
  const bin = join(dir, 'qemu-that-hangs');
  const pidFile = join(dir, 'qemu-that-hangs.pid');
  writeFileSync(
    bin,
    `#!/bin/sh\nif [ "$1" = --version ]; then exec qemu-system-x86_64 --version; fi\necho $$ > '${pidFile}'\nexec sleep 600\n`,
  );
  chmodSync(bin, 0o755);
  return { bin, pidFile };
}
