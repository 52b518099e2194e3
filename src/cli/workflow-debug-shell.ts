/**
 * An interactive shell in a sandbox with the CLI's stdin, stdout and stderr piped through: the
 * terminal in raw mode when stdin is one, and the shell under `script` inside (when the image has
 * it) so that it gets a terminal of its own. The caller releases the sandbox after it returns.
 */
import type { ManagedSandbox } from '../sandboxes/managed-sandbox.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** A debug shell may be left open for a working day. */
const SHELL_TIMEOUT_MS = 12 * 3_600_000;
/** Output of an interactive session is not cut short the way a job's is. */
const SHELL_OUTPUT_BYTES = 1024 * 1024 * 1024;

export interface DebugShellOptions {
  sandbox: ManagedSandbox;
  env: Record<string, string>;
  /** GITHUB_PATH additions, newest first. */
  path: string[];
  cwd: string;
  labels: Record<string, string>;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

/** Runs the shell until it exits; returns its exit code (128+n for a signal). */
export async function runDebugShell(o: DebugShellOptions): Promise<number> {
  const stdin = o.stdin ?? process.stdin;
  const stdout = o.stdout ?? process.stdout;
  const stderr = o.stderr ?? process.stderr;
  const probe = await o.sandbox.run({ argv: ['/bin/sh', '-c', 'command -v script && command -v bash'] });
  const found = probe.stdout.toString('utf8');
  const hasScript = /\/script\n/.test(found);
  const hasBash = /\/bash\n/.test(found);
  const shell = hasBash ? 'bash -i' : 'sh -i';
  const rows = stdout.isTTY ? stdout.rows : 24;
  const cols = stdout.isTTY ? stdout.columns : 80;
  const argv = hasScript
    ? ['script', '-qefc', `stty rows ${rows} cols ${cols} 2>/dev/null; exec ${shell}`, '/dev/null']
    : hasBash
      ? ['bash', '-i']
      : ['sh', '-i'];
  const env = {
    ...o.env,
    PATH: [...o.path, o.env.PATH ?? DEFAULT_PATH].join(':'),
    TERM: process.env.TERM || 'xterm',
  };
  const handle = o.sandbox.exec(
    {
      argv,
      env,
      cwd: o.cwd,
      stdin: 'pipe',
      limits: { timeoutMs: SHELL_TIMEOUT_MS, maxOutputBytes: SHELL_OUTPUT_BYTES },
    },
    { onStdout: (c) => stdout.write(c), onStderr: (c) => stderr.write(c) },
    o.labels,
  );
  const raw = stdin.isTTY === true;
  const onData = (c: Buffer) => handle.writeStdin(c);
  const onEnd = () => handle.closeStdin();
  if (raw) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  stdin.resume();
  try {
    const exit = await handle.exit;
    return exit.exitCode ?? 128 + 9;
  } finally {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
  }
}
