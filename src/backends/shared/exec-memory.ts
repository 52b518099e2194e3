import {
  type AgentClient,
  type ExecHandlers,
  type RunRequest,
  type RunResult,
  runToEnd,
} from '../../agent/client.js';
import type { ExecHandle } from '../../agent/client-exec.js';
import type { ExecExit, ExecRequest } from '../../agent/protocol.js';
import type { SandboxCgroup } from '../../host/cgroups.js';

/**
 * Per-exec memory limits for a whole sandbox, from the host. A sandbox made for the largest job
 * (a pooled one) must still hold each job to its own limit, and a per-process rlimit inside cannot
 * bound the sum: 8 processes of 200 MB each pass a 256 MB RLIMIT_AS. The host cgroup that holds
 * every process of the sandbox can:
 * - while an exec runs, the cgroup's memory limit is that exec's `memoryMb` (else the sandbox's)
 *   plus the sandbox machinery's own overhead, never above the sandbox's limit;
 * - when the kernel's OOM killer fires in that cgroup during the exec, the exec resolves as
 *   `outOfMemory` (with SIGKILL if the agent's stream died with it) instead of SANDBOX_LOST.
 * Used by the agent sandboxes of bwrap and gVisor.
 */

export interface ExecMemoryOptions {
  /** The host cgroup that holds every process of the sandbox. */
  cgroup: SandboxCgroup;
  /** The exec memory used when a request names none: the sandbox's own. */
  memoryMb: number;
  /** The cgroup's limit between execs, and the most it is ever given. */
  sandboxLimitMb: number;
  /** What the sandbox's own machinery (agent, sentry) needs besides the exec's programs. */
  overheadMb: number;
}

/** The agent as the sandbox's user sees it: every exec bounded as a whole, OOM reported honestly. */
export function withExecMemoryLimits(agent: AgentClient, o: ExecMemoryOptions): AgentClient {
  const active = new Map<number, number | undefined>();
  let nextId = 0;
  const apply = (): void => {
    let mb = active.size ? 0 : o.sandboxLimitMb;
    for (const want of active.values()) mb = Math.max(mb, (want ?? o.memoryMb) + o.overheadMb);
    try {
      o.cgroup.setLimits({ memoryMb: Math.min(mb, o.sandboxLimitMb) });
    } catch {
      // Lowering below what the sandbox holds fails (EBUSY): the sandbox's own limit still holds.
    }
  };
  const exec = (req: ExecRequest, handlers?: ExecHandlers): ExecHandle => {
    const id = nextId++;
    active.set(id, req.limits?.memoryMb);
    apply();
    const oomBefore = o.cgroup.oomKills();
    const started = performance.now();
    const inner = agent.exec(req, handlers);
    const oomed = () => o.cgroup.oomKills() > oomBefore;
    const exit = inner.exit.then(
      (e): ExecExit => (oomed() ? { ...e, outOfMemory: true } : e),
      (err: unknown): ExecExit => {
        if (!oomed()) throw err;
        return {
          exitCode: null,
          signal: 'SIGKILL',
          timedOut: false,
          truncated: false,
          outOfMemory: true,
          cpuTimeMs: 0,
          wallTimeMs: Math.round(performance.now() - started),
          peakMemoryKb: o.cgroup.peakMemoryKb(),
        };
      },
    );
    const done = exit.finally(() => {
      active.delete(id);
      apply();
    });
    done.catch(() => {});
    return {
      started: inner.started,
      writeStdin: (d) => inner.writeStdin(d),
      closeStdin: () => inner.closeStdin(),
      kill: (s) => inner.kill(s),
      exit: done,
    };
  };
  const run = (req: RunRequest, handlers: ExecHandlers = {}): Promise<RunResult> =>
    runToEnd(exec, req, handlers);
  return new Proxy(agent, {
    get(target, prop) {
      if (prop === 'exec') return exec;
      if (prop === 'run') return run;
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
