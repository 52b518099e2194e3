import type { Session } from '../api/sessions.js';
import type { Capability } from '../backends/backend.js';
import { HearthError } from '../errors/hearth-error.js';
import type { ManagedSandbox } from '../sandboxes/managed-sandbox.js';
import type { SessionRow } from '../store/session-store.js';
import { SessionCode } from './code.js';
import { SessionCommands } from './commands.js';
import type { SessionsConfig } from './config.js';

/** What a session can do beyond the backend's own capabilities. */
export function sessionCapabilities(caps: readonly Capability[]): string[] {
  const out: string[] = [...caps];
  if (caps.includes('memory-snapshots')) out.push('pause');
  out.push('commands', 'code', 'files');
  return out;
}

export function toSession(row: SessionRow, capabilities: readonly string[]): Session {
  return {
    id: row.id,
    state: row.state,
    backend: row.backend,
    image: row.image,
    sandboxId: row.sandboxId,
    capabilities: [...capabilities],
    memoryMb: row.spec.memoryMb ?? 0,
    vcpus: row.spec.vcpus ?? 1,
    diskMb: row.spec.diskMb ?? 0,
    metadata: { ...row.metadata },
    createdAt: new Date(row.createdAtMs).toISOString(),
    expiresAt: new Date(row.expiresAtMs).toISOString(),
    ...(row.error ? { error: { ...row.error } } : {}),
  };
}

/**
 * A session this server holds a sandbox for: its row, its sandbox (swapped on restore), its
 * commands and interpreter contexts. One call at a time may swap the sandbox (`exclusive`).
 */
export class LiveSession {
  row: SessionRow;
  sandbox: ManagedSandbox;
  readonly commands: SessionCommands;
  readonly code: SessionCode;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(row: SessionRow, sandbox: ManagedSandbox, config: SessionsConfig) {
    this.row = row;
    this.sandbox = sandbox;
    this.commands = new SessionCommands({
      sessionId: row.id,
      env: row.spec.env ?? {},
      maxOutputBytes: config.maxOutputBytes,
      maxKept: config.maxCommandsKept,
    });
    this.code = new SessionCode({ sessionId: row.id, commands: this.commands, env: row.spec.env ?? {} });
  }

  get capabilities(): string[] {
    return sessionCapabilities(this.sandbox.capabilities);
  }

  /** The sandbox, or SESSION_DEAD with why it died. */
  live(): ManagedSandbox {
    if (this.row.state === 'dead' || !this.sandbox.alive) {
      const why = this.row.error?.message ?? this.sandbox.deathError?.message ?? 'its sandbox is gone';
      throw new HearthError('SESSION_DEAD', `session ${this.row.id} is dead: ${why}`);
    }
    return this.sandbox;
  }

  /** Runs `fn` after every earlier exclusive call (snapshot, restore, pause) has finished. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => {});
    return next;
  }
}
