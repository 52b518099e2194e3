/**
 * The built CLI (dist/cli.js, as users run it) as a child process for `hearth workflow run` tests,
 * on bwrap, with its own state directory; and a temporary repository to run it against.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from './serve-fixture.js';

export const DIST_CLI = join(ROOT, 'dist', 'cli.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/cli.js workflow …`; `owners` collects the child's pid for the leak check. */
export function workflowCli(
  args: string[],
  o: { cwd: string; stateDir: string; owners: number[]; env?: NodeJS.ProcessEnv },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DIST_CLI, 'workflow', ...args], {
      cwd: o.cwd,
      env: {
        ...process.env,
        HEARTH_STATE_DIR: o.stateDir,
        HEARTH_BACKEND: 'bwrap',
        HEARTH_POOL_SIZE: '0',
        HEARTH_URL: '',
        ...o.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) o.owners.push(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A temporary repository with these files (paths relative to it). */
export function tempRepository(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-wf-cli-repo-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** Why the CLI tests cannot run here, or undefined. */
export function cliMissing(): string | undefined {
  return existsSync(DIST_CLI) ? undefined : 'dist/cli.js is not built (npm run build)';
}
