import { randomUUID } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { ExecHandle } from '../agent/client.js';
import type { OneShotStepResult } from '../backends/backend.js';
import { HearthError } from '../errors/hearth-error.js';
import type { Catalog } from '../images/catalog.js';
import type { ManagedSandbox } from '../sandboxes/managed-sandbox.js';
import type { SandboxManager } from '../sandboxes/manager.js';
import type { JobsConfig } from './config.js';
import { syntheticStep, toStepResult } from './output.js';
import { prepareJob } from './prepare.js';
import { buildSteps } from './runner.js';
import { StdinWindow } from './stdin-window.js';
import type { JobRequest, JobResult, JobStage, OutputStream, StepResult } from './types.js';

export interface InteractiveHandlers {
  onRuntime?(info: { language: string; backend: string; sandboxId: string }): void;
  onStage?(stage: JobStage): void;
  onOutput?(stage: JobStage, stream: OutputStream, data: string): void;
  /** Stdin that `writeStdin` refused room for has reached the sandbox: send more. */
  onStdinDrain?(): void;
}

/** What an interactive job needs of its service. */
export interface InteractiveDeps {
  catalog: Catalog;
  config: JobsConfig;
  manager: SandboxManager;
  /** The input gate's check of a shell job (JobService.checkInput). */
  checkInput?: (request: JobRequest, language: string) => void;
}

/**
 * A job whose stdin streams from the client while it runs (the WebSocket route). It needs the agent,
 * so it runs in a sandbox from `create` (through the warm pool), never one-shot.
 */
export class InteractiveJob {
  readonly result: Promise<JobResult>;
  /** Resolves once the job has ended and its sandbox is gone (never rejects). */
  readonly closed: Promise<void>;
  #sandbox: ManagedSandbox | undefined;
  #handle: ExecHandle | undefined;
  readonly #stdin: StdinWindow;
  #closing: Promise<void> | undefined;
  #closed = false;
  readonly #stop = new AbortController();

  constructor(service: InteractiveDeps, request: JobRequest, handlers: InteractiveHandlers) {
    this.#stdin = new StdinWindow(() => handlers.onStdinDrain?.());
    this.result = this.#run(service, request, handlers).finally(async () => {
      this.#stdin.end();
      await this.#release();
    });
    this.closed = this.result.then(
      () => {},
      () => {},
    );
  }

  /**
   * Streams stdin to the program (held until it starts). False when the bytes not yet taken by the
   * sandbox fill the window: stop sending until `onStdinDrain`.
   */
  writeStdin(data: string | Buffer): boolean {
    return this.#stdin.write(Buffer.isBuffer(data) ? data : Buffer.from(data));
  }

  closeStdin(): void {
    this.#stdin.close();
  }

  async signal(signal: string): Promise<void> {
    if (!/^SIG[A-Z0-9]+$/.test(signal))
      throw new HearthError('VALIDATION_FAILED', `"${signal}" is not a signal name`);
    await this.#handle?.kill(signal);
  }

  /**
   * Kills the program and frees the sandbox; resolves once the run has ended (a sandbox still being
   * acquired is destroyed as it arrives). Idempotent.
   */
  close(): Promise<void> {
    void this.#release();
    return this.closed;
  }

  #release(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    this.#closing ??= (async () => {
      await this.#sandbox?.release();
    })();
    return this.#closing;
  }

  async #run(service: InteractiveDeps, request: JobRequest, h: InteractiveHandlers): Promise<JobResult> {
    const started = performance.now();
    const prepared = await prepareJob(request, service.catalog, service.config);
    service.checkInput?.(request, prepared.lang.name);
    if (prepared.compileError !== undefined) {
      h.onStage?.('compile');
      h.onOutput?.('compile', 'stderr', prepared.compileError);
      return finalResult([syntheticStep(1, prepared.compileError)], true, 0);
    }
    const sandbox = await service.manager.acquire({
      backend: request.backend,
      image: prepared.lang.image,
      labels: { interactive: randomUUID() },
      pooled: true,
      slot: 'short',
      signal: this.#stop.signal,
    });
    this.#sandbox = sandbox;
    if (this.#closed) {
      await sandbox.release();
      throw new HearthError('CANCELLED', 'the connection closed before the job started');
    }
    h.onRuntime?.({ language: prepared.lang.name, backend: sandbox.backend, sandboxId: sandbox.id });
    const agent = sandbox;
    for (const f of prepared.files) {
      const dir = f.path.split('/').slice(0, -1).join('/');
      if (dir) await agent.mkdir(dir, { recursive: true });
      await agent.writeFile(f.path, f.content, f.mode ? { mode: f.mode } : {});
    }
    const startMs = performance.now() - started;
    const steps = buildSteps({ request: { ...request, stdin: undefined }, prepared, config: service.config });
    const hasCompile = prepared.lang.compile !== undefined;
    const results: StepResult[] = [];
    for (const [i, step] of steps.entries()) {
      const stage: JobStage = hasCompile && i === 0 ? 'compile' : 'run';
      h.onStage?.(stage);
      const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
      const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
      // The result and the client get at most the step's output cap, whatever the sandbox sends.
      const cap = step.limits?.maxOutputBytes ?? prepared.limits.maxOutputBytes;
      let kept = 0;
      let cut = false;
      const on = (stream: OutputStream) => (c: Buffer) => {
        const room = Math.max(0, cap - kept);
        if (c.length > room) cut = true;
        if (room === 0) return;
        const part = c.length > room ? c.subarray(0, room) : c;
        chunks[stream].push(part);
        kept += part.length;
        const text = decoders[stream].write(part);
        if (text) h.onOutput?.(stage, stream, text);
      };
      const handle = agent.exec(
        {
          argv: step.argv,
          env: step.env ?? {},
          stdin: 'pipe',
          ...(step.limits ? { limits: step.limits } : {}),
        },
        { onStdout: on('stdout'), onStderr: on('stderr') },
      );
      await handle.started;
      if (stage === 'run') {
        this.#handle = handle;
        if (request.stdin) handle.writeStdin(request.stdin);
        this.#stdin.attach({
          write: (b) => handle.writeStdin(b),
          close: () => handle.closeStdin(),
          ping: () => agent.ping(),
        });
      } else {
        handle.closeStdin();
      }
      const exit = await handle.exit;
      const raw: OneShotStepResult = {
        ...exit,
        truncated: exit.truncated || cut,
        stdout: Buffer.concat(chunks.stdout),
        stderr: Buffer.concat(chunks.stderr),
      };
      results.push(toStepResult(raw));
      if (exit.exitCode !== 0) break;
    }
    return finalResult(results, hasCompile, startMs);
  }
}

function finalResult(steps: StepResult[], hasCompile: boolean, startMs: number): JobResult {
  const last = steps.at(-1) as StepResult;
  const { cpuTimeMs: _c, wallTimeMs: _w, peakMemoryKb: _p, ...exit } = last;
  const runMs = steps.reduce((a, s) => a + s.wallTimeMs, 0);
  return {
    ...exit,
    stage: hasCompile && steps.length === 1 ? 'compile' : 'run',
    ...(hasCompile && steps[0] ? { compile: steps[0] } : {}),
    timing: { queuedMs: 0, startMs: Math.round(startMs), runMs, totalMs: Math.round(startMs) + runMs },
    usage: {
      cpuTimeMs: steps.reduce((a, s) => a + s.cpuTimeMs, 0),
      peakMemoryKb: Math.max(...steps.map((s) => s.peakMemoryKb)),
    },
  };
}
