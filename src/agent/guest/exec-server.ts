/**
 * The exec server: one `hearth-exec --server` process, started on the first exec, that forks a
 * per-exec shim for each request, so the agent does not fork Node (costly inside a TCG microVM)
 * per exec. It talks over Node's IPC channel; the sockets for the program's stdio and the shim's
 * report come back as net.Sockets (see shim/exec-server.inc.c for the wire format).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

/** How long a request may wait for the server's answer before the server counts as dead. */
const LAUNCH_TIMEOUT_MS = 10_000;

/** What the agent holds of one running exec: the per-exec shim and its four sockets. */
export class ServedShim extends EventEmitter {
  exitCode: number | null = null;
  signalCode: string | null = null;
  #exited = false;
  #closed = false;
  #open: number;

  constructor(
    readonly pid: number,
    readonly stdin: Socket | null,
    readonly stdout: Socket,
    readonly stderr: Socket,
    readonly report: Socket,
  ) {
    super();
    // A socket with nothing to read can have ended and closed while the other sockets were on their way.
    const readers = [stdout, stderr, report].filter((s) => !s.closed);
    this.#open = readers.length;
    for (const s of readers) s.once('close', () => --this.#open === 0 && this.#emitClose());
    stdin?.on('error', () => {});
  }

  /** The server reaped it (or died, in which case code and signal are null). */
  markExited(code: number | null, signal: string | null): void {
    if (this.#exited) return;
    this.#exited = true;
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
    if (this.#open === 0) this.#emitClose();
  }

  #emitClose(): void {
    if (!this.#exited || this.#closed) return;
    this.#closed = true;
    this.emit('close');
  }

  /**
   * The exit can be reported before the exec has listened (both arrive in one read of the channel,
   * ahead of the promise that hands this over): a late 'exit' or 'close' listener still hears it.
   */
  override on(event: string | symbol, listener: (...args: unknown[]) => void): this {
    super.on(event, listener);
    if ((event === 'exit' && this.#exited) || (event === 'close' && this.#closed))
      process.nextTick(listener, this.exitCode, this.signalCode);
    return this;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.#exited) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

export interface ServedStart {
  /** The shim's options, then `--`, then the program's argv. */
  shimArgs: string[];
  cwd: string;
  env: Record<string, string>;
  stdinPipe: boolean;
}

interface Pending {
  sockets: Array<Socket | undefined>;
  stdinPipe: boolean;
  resolve(shim: ServedShim): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Thrown when the server is gone; the caller falls back to a per-exec spawn. */
export class ExecServerGone extends Error {}

export class ExecServer {
  readonly #shim: string;
  #child: ChildProcess | undefined;
  /** Whether the current server has answered at all; one that dies before it ever does is not retried. */
  #answered = false;
  #disabled = false;
  #seq = 0;
  readonly #pending = new Map<number, Pending>();
  readonly #running = new Map<number, ServedShim>();

  constructor(shim: string) {
    this.#shim = shim;
  }

  /** Starts one exec; rejects with ExecServerGone when the server is (or goes) away. */
  launch(start: ServedStart): Promise<ServedShim> {
    if (this.#disabled) return Promise.reject(new ExecServerGone('exec server unavailable'));
    const child = this.#ensure();
    const seq = ++this.#seq;
    const fields = [String(seq), start.stdinPipe ? '1' : '0', start.cwd, String(start.shimArgs.length)];
    fields.push(...start.shimArgs);
    for (const [k, v] of Object.entries(start.env)) fields.push(`${k}=${v}`);
    const payload = Buffer.from(`${fields.join('\0')}\0`).toString('hex');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#lost(child, 'did not answer'), LAUNCH_TIMEOUT_MS);
      this.#pending.set(seq, { sockets: [], stdinPipe: start.stdinPipe, resolve, reject, timer });
      child.send({ hearthExec: payload }, (err) => err && this.#lost(child, err.message));
    });
  }

  /** Stops the server; its shims get SIGTERM (PDEATHSIG) and kill their trees. Idempotent. */
  close(): void {
    const child = this.#child;
    if (child) this.#lost(child, 'closed');
  }

  #ensure(): ChildProcess {
    if (this.#child) return this.#child;
    const child = spawn(this.#shim, ['--server'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.on('message', (msg: Record<string, unknown>, handle?: Socket) => this.#onMessage(msg, handle));
    child.on('error', (err) => this.#lost(child, err.message));
    child.on('exit', () => this.#lost(child, 'exited'));
    child.on('disconnect', () => this.#lost(child, 'disconnected'));
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
    this.#child = child;
    this.#answered = false;
    return child;
  }

  #onMessage(msg: Record<string, unknown>, handle: Socket | undefined): void {
    this.#answered = true;
    const seq = typeof msg.seq === 'number' ? msg.seq : -1;
    const pending = this.#pending.get(seq);
    if (typeof msg.fd === 'number' && handle) {
      if (pending) pending.sockets[msg.fd] = handle;
      else handle.destroy();
      return;
    }
    if (typeof msg.pid === 'number' && pending) {
      this.#settle(seq, pending);
      const [stdin, stdout, stderr, report] = pending.sockets;
      if (!stdout || !stderr || !report || (pending.stdinPipe && !stdin)) {
        for (const s of pending.sockets) s?.destroy();
        try {
          process.kill(msg.pid, 'SIGTERM');
        } catch {}
        pending.reject(new ExecServerGone('exec server sent too few sockets'));
        return;
      }
      const served = new ServedShim(msg.pid, stdin ?? null, stdout, stderr, report);
      this.#running.set(seq, served);
      pending.resolve(served);
      return;
    }
    if (typeof msg.error === 'string' && pending) {
      this.#settle(seq, pending);
      for (const s of pending.sockets) s?.destroy();
      pending.reject(new Error(msg.error));
      return;
    }
    if ('exitCode' in msg) {
      const served = this.#running.get(seq);
      this.#running.delete(seq);
      served?.markExited(
        typeof msg.exitCode === 'number' ? msg.exitCode : null,
        typeof msg.signal === 'string' ? msg.signal : null,
      );
    }
  }

  #settle(seq: number, pending: Pending): void {
    clearTimeout(pending.timer);
    this.#pending.delete(seq);
  }

  /** The server is gone: fail what waits, end what runs, start afresh on the next exec. */
  #lost(child: ChildProcess, why: string): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    if (!this.#answered && why !== 'closed') {
      this.#disabled = true;
      process.stderr.write(`hearth-agent: exec server ${why} before answering; spawning a shim per exec\n`);
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const [seq, pending] of this.#pending) {
      this.#settle(seq, pending);
      for (const s of pending.sockets) s?.destroy();
      pending.reject(new ExecServerGone(`exec server ${why}`));
    }
    for (const served of this.#running.values()) served.markExited(null, null);
    this.#running.clear();
  }
}
