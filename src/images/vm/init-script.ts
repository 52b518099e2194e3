/**
 * The guest's /init (busybox sh). It loads the modules, mounts the image's erofs rootfs (/dev/vda)
 * read-only under a tmpfs-backed overlay so the sandbox can write, mounts the tools erofs (/dev/vdb)
 * at /.hearth, and switch_roots into the agent on the virtio-serial port (QEMU) or vsock
 * (Firecracker). Kernel command-line switches, all optional:
 *   hearth.probe=1       print the probe marker once the modules are loaded, then power off
 *   hearth.disk_mb=N     size of the writable tmpfs (default 256)
 *   hearth.channel=vsock the agent listens on vsock port 1024 instead of /dev/vport0p1
 * Any failure prints `hearth-init: <what>` on the console and powers off, so the host sees the
 * VM exit instead of a hang.
 */
import { SANDBOX_PATH, SANDBOX_USER } from '../../agent/sandbox-user.js';

export const PROBE_MARKER = 'HEARTH-GUEST-READY';
export const INIT_FAILED_MARKER = 'hearth-init:';

export function initScript(opts: { modules: readonly string[] }): string {
  const u = SANDBOX_USER;
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
die() { echo "${INIT_FAILED_MARKER} $*" > /dev/console; poweroff -f; sleep 5; }
mount -t devtmpfs dev /dev || die "mount devtmpfs"
mount -t proc proc /proc
mount -t sysfs sys /sys
for m in ${opts.modules.join(' ')}; do
  insmod /lib/modules/$m.ko || die "insmod $m"
done
CMDLINE=" $(cat /proc/cmdline) "
arg() { v="\${CMDLINE##* $1=}"; [ "$v" = "$CMDLINE" ] && { echo "$2"; return; }; echo "\${v%% *}"; }
if [ "$(arg hearth.probe 0)" = 1 ]; then
  echo ${PROBE_MARKER} > /dev/console
  poweroff -f
fi
waitfor() { i=0; while [ ! -e "$1" ]; do i=$((i+1)); [ $i -gt 500 ] && die "no $1"; usleep 10000; done; }
waitfor /dev/vda
waitfor /dev/vdb
mkdir -p /mnt/lower /mnt/tools /mnt/rw /mnt/root
mount -t erofs -o ro /dev/vda /mnt/lower || die "mount rootfs"
mount -t erofs -o ro /dev/vdb /mnt/tools || die "mount tools"
mount -t tmpfs -o size=$(arg hearth.disk_mb 256)m,mode=755 tmpfs /mnt/rw || die "mount tmpfs"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /mnt/root || die "mount overlay"
mkdir -p /mnt/root/.hearth /mnt/root${u.workDir} /mnt/root/tmp /mnt/root/proc /mnt/root/sys /mnt/root/dev
chmod 1777 /mnt/root/tmp
mount --move /mnt/tools /mnt/root/.hearth || die "move tools"
mount --move /dev /mnt/root/dev
mount --move /proc /mnt/root/proc
mount --move /sys /mnt/root/sys
if [ "$(arg hearth.channel port)" = vsock ]; then CHANNEL="--vsock 1024"; else
  # The port is vport<virtio index>p1: the index depends on where the serial device sits among
  # the virtio-mmio devices, so take whichever appears.
  i=0; while :; do PORT=$(ls /mnt/root/dev/vport*p1 2>/dev/null | head -n 1); [ -n "$PORT" ] && break
    i=$((i+1)); [ $i -gt 500 ] && die "no virtio-serial port"; usleep 10000; done
  CHANNEL="--port \${PORT#/mnt/root}"
fi
export HOME=/root LANG=C.UTF-8 PATH=${SANDBOX_PATH}
# Programs run as the image's sandbox user, never root: the agent, its shims and the relay (root)
# and the port (root's, 0600) are out of their reach.
exec switch_root /mnt/root /.hearth/bin/node /.hearth/agent.js $CHANNEL --work-dir ${u.workDir} --home ${u.home} \\
  --program-user ${u.uid}:${u.gid} --env USER=${u.name} --env LOGNAME=${u.name}
`;
}
