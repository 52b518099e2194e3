import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setPriority } from 'node:os';
import { dirname, join } from 'node:path';
import { AgentClient } from '../../agent/client.js';
import { HearthError } from '../../errors/hearth-error.js';
import { newSandboxRecord, type SandboxLedger, type SandboxRecord } from '../../host/ledger.js';
import { ensureRunDir } from '../../host/run-dir.js';
import { processStartTime } from '../../host/sandbox-id.js';
import { TailBuffer } from '../../host/tail-buffer.js';
import { slowerBy, type WatchdogSettings, watchdogSettings } from '../shared/agent-watchdog.js';
import { type QemuVmConfig, qemuArgs } from './qemu-args.js';
import { chooseQemuUser, grant, type QemuUser, warnIfRoot } from './qemu-user.js';
import { QmpClient } from './qmp.js';

export const QEMU_BINARY = process.env.HEARTH_QEMU || 'qemu-system-x86_64';
/**
 * How much slower a guest runs under TCG than under KVM, for the host's deadlines: the guest's own
 * kill of a fork bomb's tree (3 s natively) took ≈ 6 s here.
 */
const TCG_SLOWDOWN = 4;
/** Between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 2_000;

export interface StartVmOptions {
  id: string;
  /** Per-VM directory for the sockets; removed on destroy. */
  dir: string;
  config: Omit<QemuVmConfig, 'agentSocket' | 'qmpSocket' | 'console'>;
  /** The exec shim on the host: QEMU starts through it (its user, and death with this process). */
  shim: string;
  /**
   * Open fds QEMU inherits as 3, 4, … (a migration stream: QEMU's seccomp filter forbids the
   * `exec:` transport). The caller closes its own copies once `start` returned.
   */
  passFds?: number[];
  ledger: SandboxLedger;
  labels?: Record<string, string>;
  /** How long QEMU may take to open its QMP socket. @default 10_000 */
  startTimeoutMs?: number;
  /** Start QEMU at this nice level (a pool refill yields the CPU to VMs in use). @default 0 */
  nice?: number;
}

/** How much of the guest console the host keeps (for error messages). */
const CONSOLE_TAIL_BYTES = 16 * 1024;

/**
 * Starts QEMU through the exec shim: as the chosen user, and with SIGKILL as its parent-death
 * signal, so a hearth process that dies (even of SIGKILL) takes its VMs with it at once.
 */
export function spawnQemu(o: {
  shim: string;
  user: QemuUser;
  args: string[];
  nice?: number;
  stdio: ('ignore' | 'pipe' | number)[];
}): ChildProcess {
  const drop =
    o.user.uid !== undefined && o.user.gid !== undefined
      ? [
          '--uid',
          String(o.user.uid),
          '--gid',
          String(o.user.gid),
          ...o.user.groups.flatMap((g) => ['--group', String(g)]),
        ]
      : [];
  // Through nice(1), so every QEMU thread (vCPUs included) starts at that level.
  const command = o.nice ? ['nice', '-n', String(o.nice), QEMU_BINARY] : [QEMU_BINARY];
  return spawn(o.shim, ['--pdeathsig', ...drop, '--', ...command, ...o.args], { stdio: o.stdio });
}

/** One QEMU process: its QMP connection, its agent socket, and everything to free. */
export class QemuVm {
  readonly id: string;
  readonly dir: string;
  readonly agentSocket: string;
  /** Who QEMU runs as, and why. */
  readonly user: QemuUser;
  /** The host's watch over this VM's agent: ping interval, misses, exec grace (longer under TCG). */
  readonly watchdog: WatchdogSettings;
  readonly #ledger: SandboxLedger;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly #console = new TailBuffer(CONSOLE_TAIL_BYTES);
  #stderr = '';
  #qmp: QmpClient | undefined;
  #agentSocket: Socket | undefined;
  #destroying: Promise<void> | undefined;
  #record: SandboxRecord | undefined;

  private constructor(opts: StartVmOptions, child: ChildProcess, user: QemuUser) {
    this.id = opts.id;
    this.dir = opts.dir;
    this.agentSocket = join(opts.dir, 'agent.sock');
    this.user = user;
    const watch = watchdogSettings();
    this.watchdog = opts.config.accel === 'tcg' ? slowerBy(watch, TCG_SLOWDOWN) : watch;
    this.#ledger = opts.ledger;
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => {
      if (this.#stderr.length < 8192) this.#stderr += c;
    });
    // The console is read as fast as it comes and only its tail kept: a guest that floods it
    // costs the host CPU, never memory or disk.
    child.stdout?.on('data', (c: Buffer) => this.#console.push(c));
  }

  /** The last lines the guest wrote to its console. */
  consoleTail(): string {
    return this.#console.text();
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get exited(): boolean {
    return this.#child.pid === undefined || this.#child.exitCode !== null || this.#child.signalCode !== null;
  }

  /** Starts QEMU and connects to its QMP socket. On failure everything started is freed. */
  static async start(opts: StartVmOptions): Promise<QemuVm> {
    ensureRunDir(dirname(opts.dir));
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const qmpSocket = join(opts.dir, 'qmp.sock');
    const args = qemuArgs({
      ...opts.config,
      agentSocket: join(opts.dir, 'agent.sock'),
      qmpSocket,
      console: true,
    });
    const c = opts.config;
    const user = chooseQemuUser({
      read: [c.kernel, c.initrd, c.rootfs, c.tools].filter((f): f is string => f !== undefined),
      write: c.memoryFile ? [c.memoryFile.path] : [],
      dirs: [opts.dir],
      kvm: c.accel === 'kvm',
    });
    warnIfRoot(user);
    grant(opts.dir, user);
    // Recorded before the process exists, so a crash in between still leaves the dir findable.
    const record = newSandboxRecord(opts.id, 'qemu', { paths: [opts.dir], labels: opts.labels ?? {} });
    opts.ledger.put(record);
    const child = spawnQemu({
      shim: opts.shim,
      user,
      args,
      ...(opts.nice ? { nice: opts.nice } : {}),
      stdio: ['ignore', 'pipe', 'pipe', ...(opts.passFds ?? [])],
    });
    const vm = new QemuVm(opts, child, user);
    child.on('error', () => {}); // ENOENT and friends surface as the exit below
    vm.#record = record;
    if (child.pid) {
      const startTime = processStartTime(child.pid);
      record.pids = [{ pid: child.pid, ...(startTime ? { startTime } : {}) }];
      opts.ledger.put(record);
    }
    try {
      const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
      while (!existsSync(qmpSocket)) {
        if (vm.exited || !child.pid) throw await vm.exitFailure('QEMU exited at start');
        if (Date.now() > deadline) throw vm.failure('QEMU did not open its QMP socket in time');
        await new Promise((r) => setTimeout(r, 5));
      }
      // The socket file appears at bind(), a moment before QEMU listens on it.
      for (;;) {
        try {
          vm.#qmp = await QmpClient.connect({ path: qmpSocket });
          break;
        } catch (err) {
          if (vm.exited) throw await vm.exitFailure('QEMU exited at start');
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      return vm;
    } catch (err) {
      await vm.destroy();
      throw err;
    }
  }

  /** Puts every QEMU thread back at nice 0 (a pooled VM handed to a job). Best effort. */
  prioritize(): void {
    const pid = this.#child.pid;
    if (!pid || this.exited) return;
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), 0);
    } catch {
      // Raising priority needs CAP_SYS_NICE; without it the VM just stays niced.
    }
  }

  /** Records who owns the VM now (a pooled VM handed to a job). */
  relabel(labels: Record<string, string>): void {
    if (!this.#record || this.#destroying) return;
    this.#record = { ...this.#record, labels };
    this.#ledger.put(this.#record);
  }

  get qmp(): QmpClient {
    if (!this.#qmp) throw new HearthError('SANDBOX_LOST', `VM ${this.id} has no QMP connection`);
    return this.#qmp;
  }

  /**
   * failure() for a QEMU that has exited: waits a moment for the rest of its stderr (the exit event
   * can come before the last output) and names how it ended.
   */
  async exitFailure(what: string): Promise<HearthError> {
    const stderr = this.#child.stderr;
    if (stderr && !stderr.closed)
      await Promise.race([new Promise((r) => stderr.once('close', r)), sleep(500)]);
    const { exitCode, signalCode } = this.#child;
    const how = signalCode ? ` (signal ${signalCode})` : exitCode !== null ? ` (exit ${exitCode})` : '';
    return this.failure(`${what}${how}`);
  }

  /** A SANDBOX_START_FAILED error carrying QEMU's stderr and the console's tail. */
  failure(what: string): HearthError {
    const console = this.consoleTail().slice(-1500);
    const detail = [this.#stderr.trim(), console.trim()].filter(Boolean).join('\n');
    return new HearthError('SANDBOX_START_FAILED', `${what}${detail ? `:\n${detail}` : ''}`);
  }

  /** Connects to the agent's virtio-serial socket and says hello. */
  async connectAgent(opts: { helloTimeoutMs: number; requestTimeoutMs?: number }): Promise<AgentClient> {
    this.#agentSocket?.destroy();
    const socket = connect(this.agentSocket);
    this.#agentSocket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }).catch((err) => {
      throw this.failure(`cannot connect to the agent socket: ${(err as Error).message}`);
    });
    const died = this.#exited.then(() => {
      throw this.failure('the VM exited before its agent answered');
    });
    const client = AgentClient.connect({
      readable: socket,
      writable: socket,
      helloTimeoutMs: opts.helloTimeoutMs,
      execGraceMs: this.watchdog.execGraceMs,
      ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    });
    try {
      return await Promise.race([client, died]);
    } catch (err) {
      void client.then((c) => c.close()).catch(() => {});
      if (err instanceof HearthError && err.code === 'AGENT_TIMEOUT')
        throw this.failure('the agent did not answer hello in time');
      throw err;
    }
  }

  /** Stops QEMU (QMP quit, then SIGTERM, then SIGKILL), removes its dir and record. Never throws. */
  destroy(): Promise<void> {
    this.#destroying ??= this.#destroy();
    return this.#destroying;
  }

  async #destroy(): Promise<void> {
    this.#agentSocket?.destroy();
    if (!this.exited && this.#qmp && !this.#qmp.closed) {
      void this.#qmp.execute('quit').catch(() => {});
    }
    if (!this.exited) {
      const quit = await Promise.race([this.#exited.then(() => true), sleep(300).then(() => false)]);
      if (!quit) {
        this.#child.kill('SIGTERM');
        const termed = await Promise.race([
          this.#exited.then(() => true),
          sleep(KILL_GRACE_MS).then(() => false),
        ]);
        if (!termed) {
          this.#child.kill('SIGKILL');
          await this.#exited;
        }
      }
    }
    this.#qmp?.close();
    rmSync(this.dir, { recursive: true, force: true });
    this.#ledger.remove(this.id);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
