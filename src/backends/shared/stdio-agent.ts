import type { ChildProcess } from 'node:child_process';
import { AgentClient } from '../../agent/client.js';
import { HearthError } from '../../errors/hearth-error.js';
import { exited } from '../../host/host-process.js';
import type { TailBuffer } from '../../host/tail-buffer.js';
import { watchdogSettings } from './agent-watchdog.js';

export interface StdioAgentOptions {
  /** The process whose stdin/stdout carry the agent protocol (bwrap, runsc …), just spawned. */
  proc: ChildProcess;
  /** What the user calls it, for messages: `bwrap sandbox`, `gVisor sandbox`. */
  label: string;
  /** The process's stderr so far, quoted when it fails to start. */
  stderr: TailBuffer;
  helloTimeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Connects to the agent on a just-spawned sandbox process's stdio, racing the hello against the
 * process exiting, failing to spawn, and the caller aborting. Every failure is one HearthError
 * (SANDBOX_START_FAILED, or CANCELLED) that quotes the process's stderr. Must be called in the same
 * tick as the spawn, so that a spawn error is not missed.
 */
export async function connectStdioAgent(o: StdioAgentOptions): Promise<AgentClient> {
  const { proc, label, stderr, signal } = o;
  const quoted = () => (stderr.text() ? `; stderr: ${stderr.text()}` : '');
  const spawnError = new Promise<never>((_, reject) => proc.once('error', reject));
  const died = exited(proc).then(() => {
    throw new HearthError(
      'SANDBOX_START_FAILED',
      `${label} exited before its agent answered: ${stderr.text() || `exit ${proc.exitCode ?? proc.signalCode}`}`,
    );
  });
  const aborted = new Promise<never>((_, reject) => {
    if (signal?.aborted) reject(new HearthError('CANCELLED', 'sandbox creation was cancelled'));
    signal?.addEventListener(
      'abort',
      () => reject(new HearthError('CANCELLED', 'sandbox creation was cancelled')),
      { once: true },
    );
  });
  for (const p of [spawnError, died, aborted]) p.catch(() => {});
  if (!proc.stdout || !proc.stdin)
    throw new HearthError('SANDBOX_START_FAILED', `no stdio pipes to the ${label}`);
  const connecting = AgentClient.connect({
    readable: proc.stdout,
    writable: proc.stdin,
    helloTimeoutMs: o.helloTimeoutMs,
    execGraceMs: watchdogSettings().execGraceMs,
  });
  // An agent that answers after the caller gave up is closed, not leaked.
  connecting.then((a) => (signal?.aborted ? a.close() : undefined)).catch(() => {});
  return Promise.race([connecting, died, spawnError, aborted]).catch((err: unknown) => {
    if (err instanceof HearthError && err.code !== 'AGENT_TIMEOUT' && err.code !== 'SANDBOX_LOST') throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new HearthError('SANDBOX_START_FAILED', `${label} did not start: ${why}${quoted()}`, {
      cause: err,
    });
  });
}
