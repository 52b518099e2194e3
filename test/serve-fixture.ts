import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');
/** The CLI from source, so these tests never run a stale build. */
export const CLI = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];

/** Starts `hearth serve --port 0` as a child process; resolves with its URL once it listens. */
export function startServe(
  env: NodeJS.ProcessEnv,
  onSpawn?: (child: ChildProcess) => void,
): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, 'serve', '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, HEARTH_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onSpawn?.(child);
    let out = '';
    let err = '';
    child.stderr?.on('data', (c) => (err += c));
    child.stdout?.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`hearth serve exited ${code}: ${err}`)));
  });
}
