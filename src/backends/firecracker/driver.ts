import type { FirecrackerApi } from './api-client.js';

/** The guest's vsock context id and the port the agent listens on inside it. */
export const GUEST_CID = 3;
export const AGENT_VSOCK_PORT = 1024;

export interface FirecrackerVmConfig {
  /** Uncompressed ELF kernel (Firecracker boots no bzImage). */
  vmlinux: string;
  initrd: string;
  /** Image rootfs erofs: /dev/vda in the guest. */
  rootfs: string;
  /** Tools layer erofs: /dev/vdb in the guest. */
  tools: string;
  vcpus: number;
  memoryMb: number;
  diskMb: number;
  /** Host unix socket Firecracker exposes the guest's vsock on. */
  vsockPath: string;
}

/** The kernel command line: the same /init as QEMU, with the agent on vsock. */
export function bootArgs(cfg: FirecrackerVmConfig): string {
  return `console=ttyS0 quiet panic=-1 reboot=k pci=off hearth.disk_mb=${cfg.diskMb} hearth.channel=vsock`;
}

/** Configures a fresh Firecracker process and starts the guest (the API's documented order). */
export async function bootVm(api: FirecrackerApi, cfg: FirecrackerVmConfig): Promise<void> {
  await api.put('/boot-source', {
    kernel_image_path: cfg.vmlinux,
    initrd_path: cfg.initrd,
    boot_args: bootArgs(cfg),
  });
  await api.put('/drives/rootfs', {
    drive_id: 'rootfs',
    path_on_host: cfg.rootfs,
    is_root_device: false,
    is_read_only: true,
  });
  await api.put('/drives/tools', {
    drive_id: 'tools',
    path_on_host: cfg.tools,
    is_root_device: false,
    is_read_only: true,
  });
  await api.put('/machine-config', { vcpu_count: cfg.vcpus, mem_size_mib: cfg.memoryMb, smt: false });
  await api.put('/vsock', { guest_cid: GUEST_CID, uds_path: cfg.vsockPath });
  await api.put('/actions', { action_type: 'InstanceStart' });
}

/** Pauses the guest and writes its state and memory (a template or a session snapshot). */
export async function createSnapshot(
  api: FirecrackerApi,
  opts: { statePath: string; memPath: string },
): Promise<void> {
  await api.patch('/vm', { state: 'Paused' });
  await api.put('/snapshot/create', {
    snapshot_type: 'Full',
    snapshot_path: opts.statePath,
    mem_file_path: opts.memPath,
  });
}

/**
 * Loads a snapshot into a fresh Firecracker process and resumes it. The memory file is mapped
 * privately, so clones of one template share its pages until they write them.
 */
export async function loadSnapshot(
  api: FirecrackerApi,
  opts: { statePath: string; memPath: string },
): Promise<void> {
  await api.put('/snapshot/load', {
    snapshot_path: opts.statePath,
    mem_backend: { backend_type: 'File', backend_path: opts.memPath },
    resume_vm: true,
  });
}
