import { chmodSync, createWriteStream } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HearthError } from '../../errors/hearth-error.js';
import { grant, type QemuUser } from './qemu-user.js';

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
              new HearthError(
                'SANDBOX_START_FAILED',
                `the template's state did not arrive in ${timeoutMs} ms`,
              ),
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
