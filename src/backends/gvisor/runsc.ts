import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The runsc binary. `HEARTH_RUNSC`; @default runsc (from PATH) */
export function runscBinary(): string {
  return process.env.HEARTH_RUNSC || 'runsc';
}

/** Global runsc flags for one sandbox: its own state dir, no network at all. */
export function runscFlags(stateDir: string): string[] {
  return ['--root', stateDir, '--network=none'];
}

/** Runs a runsc subcommand for the sandbox whose state is in `stateDir`; never throws. */
export async function runscQuiet(stateDir: string, args: string[], timeoutMs = 5000): Promise<boolean> {
  try {
    await run(runscBinary(), [...runscFlags(stateDir), ...args], { timeout: timeoutMs });
    return true;
  } catch {
    return false;
  }
}
