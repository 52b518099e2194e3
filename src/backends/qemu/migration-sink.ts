import { chmodSync, createWriteStream, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HearthError } from '../../errors/hearth-error.js';
import { grant, type QemuUser } from './qemu-user.js';
import type { QemuVm } from './qemu-vm.js';

export interface MigrationSink {
  /** The `migrate` URI QEMU sends its state to. */
  uri: string;
  /** Resolves once the whole stream is in the file; rejects on a broken stream or after `timeoutMs`. */
  written(timeoutMs: number): Promise<void>;
  /** Stops listening and drops a connection still open. Idempotent. */
  close(): void;
}

/**
 * Receives one QEMU migration stream into `file` through a unix socket in the VM's directory.
 * QEMU's seccomp filter forbids the `exec:` transport (no `cat`), and QEMU 7.2 takes an outgoing
 * `fd:` only by name (an fd passed over QMP), so the host listens and QEMU connects. The socket
 * belongs to QEMU's user (connecting needs write permission on it); nobody else can reach the
 * VM's directory.
 */
export async function receiveMigration(o: {
  dir: string;
  file: string;
  user: QemuUser;
}): Promise<MigrationSink> {
  const path = join(o.dir, 'migrate.sock');
  let conn: Socket | undefined;
  let done: Promise<void> | undefined;
  let settle: ((p: Promise<void>) => void) | undefined;
  const connected = new Promise<Promise<void>>((resolve) => {
    settle = resolve;
  });
  const server = createServer((socket) => {
    if (conn) {
      socket.destroy(); // one stream only
      return;
    }
    conn = socket;
    server.close();
    done = pipeline(socket, createWriteStream(o.file, { mode: 0o600 }));
    done.catch(() => {});
    settle?.(done);
  });
  // A socket left by an earlier save of this VM that ended abnormally.
  rmSync(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  grant(path, o.user);
  return {
    uri: `unix:${path}`,
    async written(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new HearthError('SANDBOX_START_FAILED', `the VM's state did not arrive in ${timeoutMs} ms`),
            ),
          timeoutMs,
        );
      });
      try {
        await Promise.race([connected, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      server.close();
      conn?.destroy();
    },
  };
}

/**
 * Sends a stopped VM's state (QMP `migrate`) into `file` and waits until all of it is there. The
 * VM stays stopped; the caller resumes (`cont`) or ends it. `what` names the save in errors.
 */
export async function migrateToFile(
  vm: QemuVm,
  file: string,
  o: { timeoutMs: number; what: string },
): Promise<void> {
  const sink = await receiveMigration({ dir: vm.dir, file, user: vm.user });
  try {
    await vm.qmp.execute('migrate', { uri: sink.uri });
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
      const info = await vm.qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (info.status === 'completed') break;
      if (info.status === 'failed' || info.status === 'cancelled')
        throw vm.failure(`${o.what} failed: ${info['error-desc'] ?? info.status}`);
      if (Date.now() > deadline) throw vm.failure(`${o.what} took too long`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await sink.written(Math.max(1, deadline - Date.now()));
  } finally {
    sink.close();
  }
}
