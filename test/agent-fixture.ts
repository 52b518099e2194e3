/**
 * Runs the real guest agent (dist/agent.js) as a local child process over stdio, with the real
 * exec shim, in a temp work dir. Everything started is freed by `stopAll()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient } from '../src/agent/client.js';
import { distDir } from '../src/config/paths.js';

export interface LocalAgent {
  client: AgentClient;
  child: ChildProcess;
  workDir: string;
  /** What the agent wrote on stderr. */
  stderr(): string;
}

const started: Array<{ child: ChildProcess; workDir: string; client?: AgentClient }> = [];

export function agentBundle(): { agent: string; shim: string } {
  const agent = join(distDir(), 'agent.js');
  const shim = join(distDir(), 'hearth-exec');
  if (!existsSync(agent) || !existsSync(shim))
    throw new Error('dist/agent.js or dist/hearth-exec missing: run npm run build');
  return { agent, shim };
}

/** Spawns the agent without connecting. */
export function spawnAgent(extraArgs: string[] = []): {
  child: ChildProcess;
  workDir: string;
  stderr(): string;
} {
  const { agent, shim } = agentBundle();
  // Not under /tmp: the agent allows /tmp too, and escapes from the work dir must land outside both.
  const base = existsSync('/var/tmp') ? '/var/tmp' : tmpdir();
  const workDir = mkdtempSync(join(base, 'hearth-agent-test-'));
  const child = spawn(process.execPath, [agent, '--stdio', '--work-dir', workDir, ...extraArgs], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { HEARTH_SHIM: shim, PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  started.push({ child, workDir });
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (t: string) => {
    err = (err + t).slice(-16_384);
  });
  return { child, workDir, stderr: () => err };
}

export async function startAgent(extraArgs: string[] = []): Promise<LocalAgent> {
  const { child, workDir, stderr } = spawnAgent(extraArgs);
  const client = await AgentClient.connect({ readable: child.stdout!, writable: child.stdin! });
  const entry = started.find((s) => s.child === child);
  if (entry) entry.client = client;
  return { child, workDir, stderr, client };
}

/** Closes every client, kills every agent (SIGTERM, then SIGKILL), removes every work dir. */
export async function stopAll(): Promise<void> {
  for (const a of started.splice(0)) {
    await a.client?.close();
    await stopChild(a.child);
    rmSync(a.workDir, { recursive: true, force: true });
  }
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

/** True while a process with this pid exists and is not a zombie (dead, waiting to be reaped). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
