/**
 * The host's watch over one sandbox's agent. The guest enforces exec deadlines, but a program in
 * the sandbox can stop the agent (SIGSTOP), its exec server or the VM's relay; then nothing in the
 * guest answers and, without this, an exec would wait for ever and hold its slot. The watchdog
 * pings the agent and gives it up after a number of missed pings; whenever the connection ends
 * with an error (missed pings, an exec past its host deadline, a protocol violation, a lost
 * stream) it kills the sandbox. A stopped agent can so delay only its own sandbox's work.
 */
import { type AgentClient, EXEC_GRACE_MS } from '../../agent/client.js';
import { HearthError } from '../../errors/hearth-error.js';

export interface WatchdogSettings {
  /** How often the agent is pinged, and how long each ping may take. */
  pingIntervalMs: number;
  /** Consecutive pings missed before the agent is given up. */
  pingMisses: number;
  /** Time past an exec's timeout before the host ends it (the client's `execGraceMs`). */
  execGraceMs: number;
}

function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  return Number.isInteger(n) && n >= min ? n : fallback;
}

/**
 * The settings from HEARTH_AGENT_PING_MS (default 5000), HEARTH_AGENT_PING_MISSES (3) and
 * HEARTH_AGENT_EXEC_GRACE_MS (5000). Invalid values fall back to the defaults.
 */
export function watchdogSettings(env: NodeJS.ProcessEnv = process.env): WatchdogSettings {
  return {
    pingIntervalMs: envInt(env, 'HEARTH_AGENT_PING_MS', 5000, 100),
    pingMisses: envInt(env, 'HEARTH_AGENT_PING_MISSES', 3, 1),
    execGraceMs: envInt(env, 'HEARTH_AGENT_EXEC_GRACE_MS', EXEC_GRACE_MS, 0),
  };
}

/**
 * The settings for a sandbox that runs `factor` times slower than a native one (a VM under TCG):
 * a guest that needs seconds to kill a fork bomb's tree natively needs many more when emulated, and
 * the host's deadline must not take the slowness for a stopped agent.
 */
export function slowerBy(s: WatchdogSettings, factor: number): WatchdogSettings {
  return { ...s, pingIntervalMs: s.pingIntervalMs * factor, execGraceMs: s.execGraceMs * factor };
}

export class AgentWatchdog {
  #timer: NodeJS.Timeout | undefined;
  #misses = 0;
  #stopped = false;

  /**
   * Starts watching `agent`; `kill` is called once, with the error, when the connection ends
   * badly. A connection closed on purpose (`agent.close()`) only stops the watch.
   */
  constructor(
    private readonly agent: AgentClient,
    kill: (err: Error) => void,
    private readonly settings: WatchdogSettings = watchdogSettings(),
  ) {
    agent.onClose((err) => {
      this.stop();
      if (err) kill(err);
    });
    if (!agent.closed) this.#schedule();
  }

  /** Stops pinging (the sandbox is being destroyed). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), this.settings.pingIntervalMs);
    // The watch must not keep a process alive that has nothing else to do.
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    const { pingIntervalMs, pingMisses } = this.settings;
    try {
      await this.agent.ping(pingIntervalMs);
      this.#misses = 0;
    } catch (err) {
      if (this.#stopped || this.agent.closed) return;
      if (!(err instanceof HearthError) || err.code !== 'AGENT_TIMEOUT') return this.#schedule();
      if (++this.#misses >= pingMisses) {
        this.agent.abort(
          new HearthError(
            'AGENT_TIMEOUT',
            `the agent missed ${this.#misses} pings in a row (${pingIntervalMs} ms each); the sandbox is killed`,
          ),
        );
        return;
      }
    }
    this.#schedule();
  }
}
