import type { RunRequest } from '../agent/client.js';
import type { ExecLimits } from '../agent/protocol.js';
import type { OneShotStep, OneShotStepResult, SandboxSpec } from '../backends/backend.js';
import { HearthError } from '../errors/hearth-error.js';
import type { ReadyBackend } from '../sandboxes/backend-set.js';
import type { SandboxManager } from '../sandboxes/manager.js';
import { type JobsConfig, resolveCompileLimits } from './config.js';
import { syntheticStep, toStepResult } from './output.js';
import type { PreparedJob } from './prepare.js';
import type { JobRequest, JobResult, JobStage, OutputStream, StepResult } from './types.js';

export interface RunJobOptions {
  id: string;
  request: JobRequest;
  prepared: PreparedJob;
  backend: ReadyBackend;
  config: JobsConfig;
  /** Gives the sandboxes: one-shot runs, or a pooled sandbox with the agent within its slots. */
  manager: SandboxManager;
  signal: AbortSignal;
  onStage?: (stage: JobStage) => void;
  onOutput?: (stage: JobStage, stream: OutputStream, chunk: Buffer) => void;
}

/** What the runner measured; the service adds the queue time and total. */
export type RunOutcome = Omit<JobResult, 'timing'> & { timing: { startMs: number; runMs: number } };

function toExecLimits(l: PreparedJob['limits']): ExecLimits {
  return {
    timeoutMs: l.timeoutMs,
    cpuTimeMs: l.cpuTimeMs,
    memoryMb: l.memoryMb,
    maxProcesses: l.maxProcesses,
    maxOutputBytes: l.maxOutputBytes,
  };
}

/** The compile step (if the language has one) and the run step, as one-shot steps. */
export function buildSteps(o: Pick<RunJobOptions, 'request' | 'prepared' | 'config'>): OneShotStep[] {
  const { lang, limits } = o.prepared;
  const steps: OneShotStep[] = [];
  if (lang.compile) {
    const compile = resolveCompileLimits(o.config, o.request.compileLimits);
    steps.push({
      argv: lang.compile,
      env: { ...lang.env },
      limits: {
        timeoutMs: compile.timeoutMs,
        cpuTimeMs: compile.cpuTimeMs,
        // A job that asked for a compile memory limit gets it; else the larger of its own and the default.
        memoryMb: o.request.compileLimits?.memoryMb ?? Math.max(limits.memoryMb, compile.memoryMb),
        maxProcesses: Math.max(limits.maxProcesses, 256),
        maxOutputBytes: limits.maxOutputBytes,
      },
    });
  }
  const run: OneShotStep = {
    argv: [...lang.run, ...(o.request.args ?? [])],
    env: { ...lang.env, ...o.request.env },
    limits: toExecLimits(limits),
  };
  if (o.request.stdin !== undefined) run.stdin = Buffer.from(o.request.stdin);
  steps.push(run);
  return steps;
}

function sandboxSpec(o: RunJobOptions, steps: OneShotStep[]): SandboxSpec {
  return {
    image: o.prepared.lang.image,
    memoryMb: Math.max(...steps.map((s) => s.limits?.memoryMb ?? 0)),
    maxProcesses: Math.max(...steps.map((s) => s.limits?.maxProcesses ?? 0)),
    labels: { job: o.id },
  };
}

function outcome(steps: StepResult[], hasCompile: boolean, startMs: number): RunOutcome {
  const last = steps.at(-1);
  if (!last) throw new HearthError('INTERNAL', 'the backend returned no step results');
  const compile = hasCompile ? steps[0] : undefined;
  const { cpuTimeMs: _c, wallTimeMs: _w, peakMemoryKb: _p, ...exit } = last;
  const runMs = steps.reduce((a, s) => a + s.wallTimeMs, 0);
  return {
    ...exit,
    stage: hasCompile && steps.length === 1 ? 'compile' : 'run',
    ...(compile ? { compile } : {}),
    timing: { startMs: Math.max(0, Math.round(startMs)), runMs },
    usage: {
      cpuTimeMs: steps.reduce((a, s) => a + s.cpuTimeMs, 0),
      peakMemoryKb: Math.max(...steps.map((s) => s.peakMemoryKb)),
    },
  };
}

/** Runs a prepared job in a fresh sandbox: one-shot when the backend can, else through the agent. */
export async function runJob(o: RunJobOptions): Promise<RunOutcome> {
  if (o.prepared.compileError !== undefined) {
    o.onStage?.('compile');
    o.onOutput?.('compile', 'stderr', Buffer.from(o.prepared.compileError));
    return outcome([syntheticStep(1, o.prepared.compileError)], true, 0);
  }
  const steps = buildSteps(o);
  const hasCompile = o.prepared.lang.compile !== undefined;
  const stageOf = (i: number): JobStage => (hasCompile && i === 0 ? 'compile' : 'run');
  const started = performance.now();
  let raw: OneShotStepResult[];
  if (o.backend.backend.runOnce && o.backend.backend.capabilities().includes('one-shot')) {
    let stage = -1;
    const enter = (i: number) => {
      while (stage < i) o.onStage?.(stageOf(++stage));
    };
    enter(0);
    raw = await o.manager.runOnce(o.backend, sandboxSpec(o, steps), {
      files: o.prepared.files,
      steps,
      signal: o.signal,
      onOutput: (i, stream, chunk) => {
        enter(i);
        o.onOutput?.(stageOf(i), stream, chunk);
      },
    });
    if (raw.length > 1) enter(raw.length - 1);
  } else {
    raw = await runThroughAgent(o, steps, stageOf);
  }
  const results = raw.map(toStepResult);
  const runMs = results.reduce((a, s) => a + s.wallTimeMs, 0);
  return outcome(results, hasCompile, performance.now() - started - runMs);
}

async function runThroughAgent(
  o: RunJobOptions,
  steps: OneShotStep[],
  stageOf: (i: number) => JobStage,
): Promise<OneShotStepResult[]> {
  const sandbox = await o.manager.acquire({
    backend: o.backend.backend.name,
    image: o.prepared.lang.image,
    labels: { job: o.id },
    pooled: true,
    slot: 'short',
    signal: o.signal,
  });
  const kill = () => void sandbox.release();
  o.signal.addEventListener('abort', kill, { once: true });
  try {
    const agent = sandbox;
    const dirs = new Set(
      o.prepared.files.map((f) => f.path.split('/').slice(0, -1).join('/')).filter(Boolean),
    );
    for (const dir of dirs) await agent.mkdir(dir, { recursive: true });
    for (const f of o.prepared.files)
      await agent.writeFile(f.path, f.content, f.mode ? { mode: f.mode } : {});
    const results: OneShotStepResult[] = [];
    for (const [i, step] of steps.entries()) {
      o.onStage?.(stageOf(i));
      const req = {
        argv: step.argv,
        ...(step.env ? { env: step.env } : {}),
        ...(step.limits ? { limits: step.limits } : {}),
        ...(step.stdin ? { stdin: step.stdin } : {}),
      } as RunRequest;
      const r = await agent.run(req, {
        onStdout: (c) => o.onOutput?.(stageOf(i), 'stdout', c),
        onStderr: (c) => o.onOutput?.(stageOf(i), 'stderr', c),
      });
      results.push(r);
      if (r.exitCode !== 0) break;
    }
    return results;
  } finally {
    o.signal.removeEventListener('abort', kill);
    await sandbox.release();
  }
}
