import { randomUUID } from 'node:crypto';
import { type HearthPaths, hearthPaths } from '../config/paths.js';
import { HearthError, toHearthError } from '../errors/hearth-error.js';
import { type Catalog, type LanguageDef, loadCatalog } from '../images/catalog.js';
import { findImage } from '../images/store.js';
import type { InputGate } from '../learning/input-gate.js';
import type { BackendSet } from '../sandboxes/backend-set.js';
import { SandboxManager } from '../sandboxes/manager.js';
import type { JobListQuery, JobStore } from '../store/job-store.js';
import { type JobsConfig, jobsConfig } from './config.js';
import { type JobEvent, JobEventBus, type JobListener } from './events.js';
import { errorInfo, FinalWriter, finalFields } from './final-writer.js';
import { type InteractiveHandlers, InteractiveJob } from './interactive.js';
import { LanguageCatalog } from './languages.js';
import { type PreparedJob, prepareJob } from './prepare.js';
import { Retention } from './retention.js';
import { runJob } from './runner.js';
import { type AbortReason, Scheduler } from './scheduler.js';
import type { JobPage } from './summary.js';
import { FINAL_STATUSES, type Job, type JobErrorInfo, type JobRequest } from './types.js';

/** Languages whose code is a shell script, which the input gate can check. */
const SHELL_LANGUAGES = new Set(['bash', 'sh']);

/** Counters the service reports to (the server's Prometheus metrics implement it). */
export interface JobMetrics {
  jobFinished(status: string, seconds: number): void;
  sandboxAllocated(seconds: number): void;
}

export interface JobLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface JobServiceOptions {
  store: JobStore;
  /** @default jobsConfig(process.env) */
  config?: JobsConfig;
  /** @default loadCatalog() */
  catalog?: Catalog;
  paths?: HearthPaths;
  metrics?: JobMetrics;
  logger?: JobLogger;
  /** Checks shell jobs' scripts before they are queued (learning/input-gate.ts). @default none */
  inputGate?: InputGate;
  /** The clock retention measures job age by. @default Date.now */
  now?: () => number;
  /**
   * Where the service gets its sandboxes. The server passes the one it shares with sessions;
   * @default a manager of the service's own, closed with it
   */
  manager?: SandboxManager;
}

/** The manager settings that follow from the job service's config. */
export function managerConfigFor(config: JobsConfig) {
  return {
    defaultBackend: config.defaultBackend,
    slots: config.sandboxConcurrency,
    poolSize: config.poolSize,
    poolSpec: {
      memoryMb: Math.max(config.maxLimits.memoryMb, config.compileMemoryMb),
      maxProcesses: config.maxLimits.maxProcesses,
    },
    execDefaults: {
      timeoutMs: config.maxLimits.timeoutMs,
      maxOutputBytes: config.maxLimits.maxOutputBytes,
    },
    maxReadBytes: 64 * 1024 * 1024,
  };
}

interface Live {
  job: Job;
  prepared: PreparedJob | undefined;
  createdMs: number;
}

/** Waits for every promise to settle, or `ms`, whichever comes first. */
async function settleWithin(all: Promise<unknown>[], ms: number): Promise<void> {
  if (!all.length) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(all),
    new Promise((r) => {
      timer = setTimeout(r, ms);
    }),
  ]);
  clearTimeout(timer);
}

/** Jobs: submit → store → queue → a fresh sandbox → store → subscribers. */
export class JobService {
  readonly config: JobsConfig;
  readonly catalog: Catalog;
  readonly store: JobStore;
  /** Where every sandbox of a job comes from. */
  readonly manager: SandboxManager;
  readonly paths: HearthPaths | undefined;
  /** The catalog's languages with their probed versions (the probe runs in this service's sandboxes). */
  readonly languages: LanguageCatalog;
  /** Deletes old finished jobs; `startServer` starts it, `close()` stops it. */
  readonly retention: Retention;
  readonly #finals: FinalWriter;
  readonly #interactive = new Set<InteractiveJob>();
  readonly #bus = new JobEventBus();
  readonly #live = new Map<string, Live>();
  readonly #scheduler: Scheduler;
  readonly #metrics: JobMetrics | undefined;
  readonly #inputGate: InputGate | undefined;
  readonly log: JobLogger | undefined;
  readonly #ownsManager: boolean;
  #closing: Promise<void> | undefined;

  constructor(opts: JobServiceOptions) {
    this.store = opts.store;
    this.config = opts.config ?? jobsConfig();
    this.catalog = opts.catalog ?? loadCatalog();
    this.#metrics = opts.metrics;
    this.#inputGate = opts.inputGate;
    this.log = opts.logger;
    this.paths = opts.paths;
    this.#ownsManager = !opts.manager;
    this.manager =
      opts.manager ??
      new SandboxManager({
        config: managerConfigFor(this.config),
        ledger: opts.store.ledger,
        ...(opts.paths ? { paths: opts.paths } : {}),
        onSandboxAllocated: (s) => this.#metrics?.sandboxAllocated(s),
        onWarning: (obj, msg) => this.log?.warn(obj, msg),
      });
    this.#finals = new FinalWriter(this.store, (err, job) =>
      this.log?.error({ err, job }, 'cannot store the job result; the job ends with the store error'),
    );
    this.retention = new Retention({
      store: this.store,
      config: this.config,
      ...(opts.now ? { now: opts.now } : {}),
      before: () => this.#finals.flush(),
      onPruned: (deleted) => this.log?.info({ deleted }, 'retention deleted old jobs'),
      onError: (err) => this.log?.warn({ err }, 'retention failed; it runs again later'),
    });
    this.languages = new LanguageCatalog({
      catalog: this.catalog,
      manager: this.manager,
      paths: this.paths,
    });
    this.#scheduler = new Scheduler({
      concurrency: this.config.concurrency,
      maxQueue: this.config.maxQueue,
      run: (id, signal) => this.#run(id, signal),
    });
  }

  /** The backends, loaded and probed once (the manager's). */
  get backends(): BackendSet {
    return this.manager.backends;
  }

  get queueDepth(): number {
    return this.#scheduler.depth;
  }

  get runningCount(): number {
    return this.#scheduler.runningCount;
  }

  /** Checks, stores (committed) and queues a job; the returned job is `queued`. */
  async submit(request: JobRequest): Promise<Job> {
    const prepared = await prepareJob(request, this.catalog, this.config);
    this.checkInput(request, prepared.lang.name);
    this.#assertImageBuilt(prepared.lang);
    this.#scheduler.assertRoom();
    const createdMs = Date.now();
    const id = randomUUID();
    const job: Job = {
      id,
      status: 'queued',
      language: prepared.lang.name,
      version: request.version ?? null,
      backend: request.backend ?? null,
      request,
      result: null,
      error: null,
      createdAt: new Date(createdMs).toISOString(),
      startedAt: null,
      finishedAt: null,
      attempts: 0,
    };
    // Final states held while the store was full go first, now that it may take writes again.
    if (this.#finals.heldCount) await this.#finals.flush();
    // One statement: the job is stored whole or not at all (STORE_FULL / STORE_UNAVAILABLE then).
    await this.store.insert({
      id,
      language: job.language,
      version: job.version,
      backend: job.backend,
      request,
      createdAtMs: createdMs,
    });
    this.#enqueue({ job, prepared, createdMs });
    return { ...job };
  }

  /** Submits each request on its own: an item that fails validation gets its error, the others run. */
  /**
   * A shell job's script goes through the input gate (INPUT_REJECTED before it is queued); other
   * languages' code is not shell, so the command thesaurus has nothing to say about it.
   */
  checkInput(request: JobRequest, language: string): void {
    if (!this.#inputGate || !SHELL_LANGUAGES.has(language)) return;
    const main = request.files?.[0];
    const script =
      request.code ??
      (main
        ? Buffer.from(main.content, main.encoding === 'base64' ? 'base64' : 'utf8').toString('utf8')
        : '');
    this.#inputGate.check(script, request.validate);
  }

  async submitBatch(requests: JobRequest[]): Promise<Array<{ id: string } | { error: JobErrorInfo }>> {
    if (requests.length > this.config.maxBatch) {
      throw new HearthError(
        'BATCH_TOO_LARGE',
        `${requests.length} jobs; the maximum per batch is ${this.config.maxBatch}`,
      );
    }
    const out: Array<{ id: string } | { error: JobErrorInfo }> = [];
    for (const r of requests) {
      try {
        out.push({ id: (await this.submit(r)).id });
      } catch (err) {
        out.push({ error: errorInfo(toHearthError(err)) });
      }
    }
    return out;
  }

  async get(id: string): Promise<Job> {
    const job = this.#live.get(id)?.job ?? this.#finals.held(id) ?? (await this.store.get(id));
    if (!job) throw new HearthError('JOB_NOT_FOUND', `no job with id ${id}`);
    return { ...job };
  }

  /** Summaries, never the outputs (GET /v1/jobs/:id has those). */
  async list(query: JobListQuery): Promise<JobPage> {
    const page = await this.store.list(query);
    return { ...page, jobs: page.jobs.map((j) => this.#finals.overlay(j)) };
  }

  /** Cancels a queued or running job; JOB_FINISHED if it already ended. */
  async cancel(id: string): Promise<Job> {
    const job = await this.get(id);
    if (FINAL_STATUSES.has(job.status)) {
      throw new HearthError('JOB_FINISHED', `job ${id} is already ${job.status}`);
    }
    const how = await this.#scheduler.cancel(id);
    if (how !== 'aborted') {
      await this.#finish(id, 'cancelled', null, new HearthError('CANCELLED', 'cancelled before it started'));
    }
    return this.get(id);
  }

  /**
   * Follows a job: replays what a live job emitted so far, then streams; a finished job gets its
   * `result` event at once. Returns the unsubscribe function.
   */
  async subscribe(id: string, listener: JobListener): Promise<() => void> {
    const off = this.#bus.subscribe(id, listener);
    if (off) return off;
    const job = await this.get(id);
    if (FINAL_STATUSES.has(job.status)) {
      listener({ type: 'result', job });
      return () => {};
    }
    // Queued in the store but owned by no live channel here (e.g. another server): poll the store.
    let stopped = false;
    const poll = async () => {
      while (!stopped) {
        await new Promise((r) => setTimeout(r, 250));
        const now = await this.store.get(id).catch(() => undefined);
        if (now && FINAL_STATUSES.has(now.status)) {
          if (!stopped) listener({ type: 'result', job: now });
          return;
        }
      }
    };
    void poll();
    return () => {
      stopped = true;
    };
  }

  /** Resolves with the job once it is final. */
  wait(id: string, signal?: AbortSignal): Promise<Job> {
    return new Promise<Job>((resolve, reject) => {
      let off: (() => void) | undefined;
      let done = false;
      const onAbort = () => {
        off?.();
        reject(new HearthError('CANCELLED', 'stopped waiting'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.subscribe(id, (e: JobEvent) => {
        if (e.type !== 'result') return;
        done = true;
        off?.();
        signal?.removeEventListener('abort', onAbort);
        resolve(e.job);
      }).then((o) => {
        off = o;
        if (done) o();
      }, reject);
    });
  }

  /** Re-queues a job found `queued` in the store at start-up. */
  requeue(job: Job): void {
    this.#enqueue({ job, prepared: undefined, createdMs: Date.parse(job.createdAt) });
  }

  /** Finishes a job as an error from outside a run (recovery). */
  async fail(id: string, err: HearthError): Promise<void> {
    await this.#finish(id, 'error', null, err);
  }

  /**
   * A job whose stdin streams in while it runs (the WebSocket route), owned by this service until it
   * ends: `close()` ends it too. SHUTTING_DOWN once the service is closing.
   */
  openInteractive(request: JobRequest, handlers: InteractiveHandlers): InteractiveJob {
    if (this.#closing) throw new HearthError('SHUTTING_DOWN', 'the server is shutting down');
    const job = new InteractiveJob(this, request, handlers);
    this.#interactive.add(job);
    void job.closed.then(() => this.#interactive.delete(job));
    return job;
  }

  /**
   * Stops accepting, lets running jobs (interactive ones too) finish up to `graceMs`, aborts the
   * rest and waits for their sandboxes to go, stops the language probe, drains pools. Idempotent.
   */
  close(opts: { graceMs?: number } = {}): Promise<void> {
    this.#closing ??= (async () => {
      const graceMs = opts.graceMs ?? 10_000;
      const probes = this.languages.close();
      const retention = this.retention.stop();
      const interactive = [...this.#interactive];
      const [left] = await Promise.all([
        this.#scheduler.drain(graceMs),
        settleWithin(
          interactive.map((j) => j.result),
          graceMs,
        ),
      ]);
      for (const id of left) {
        // Still queued in the store, run at the next start; whoever waits here hears it now.
        const live = this.#live.get(id);
        this.#live.delete(id);
        if (live) this.#bus.finish({ ...live.job });
      }
      await Promise.all(interactive.map((j) => j.close()));
      await probes;
      await retention;
      await this.#finals.flush();
      if (this.#ownsManager) await this.manager.close();
    })();
    return this.#closing;
  }

  /** A job whose image is not built is refused at submit, not accepted and failed later. */
  #assertImageBuilt(lang: LanguageDef): void {
    if (findImage(lang.image, { paths: this.paths ?? hearthPaths(), catalog: this.catalog })) return;
    throw new HearthError(
      'IMAGE_NOT_BUILT',
      `the image "${lang.image}" that runs ${lang.name} is not built`,
      {
        hint: `Build it on the server with \`hearth images build ${lang.image}\`.`,
      },
    );
  }

  #enqueue(live: Live): void {
    this.#live.set(live.job.id, live);
    this.#bus.open(live.job.id);
    this.#scheduler.enqueue(live.job.id);
  }

  async #run(id: string, signal: AbortSignal): Promise<void> {
    const live = this.#live.get(id);
    if (!live) return;
    const { job } = live;
    try {
      const prepared = live.prepared ?? (await prepareJob(job.request, this.catalog, this.config));
      const ready = await this.backends.get(job.request.backend);
      const { backend } = ready;
      const startedMs = Date.now();
      if (
        !(await this.store.markRunning(id, {
          backend: backend.name,
          ownerPid: process.pid,
          startedAtMs: startedMs,
        }))
      ) {
        this.#live.delete(id);
        return;
      }
      Object.assign(job, {
        status: 'running',
        backend: backend.name,
        startedAt: new Date(startedMs).toISOString(),
        attempts: job.attempts + 1,
      });
      this.#bus.emit(id, { type: 'status', status: 'running', backend: backend.name });
      if (signal.aborted) throw signal.reason;
      const out = await runJob({
        id,
        request: job.request,
        prepared,
        backend: ready,
        config: this.config,
        manager: this.manager,
        signal,
        onStage: (stage) => this.#bus.emit(id, { type: 'stage', stage }),
        onOutput: (stage, stream, chunk) => this.#bus.output(id, stage, stream, chunk),
      });
      if (backend.runOnce) this.#metrics?.sandboxAllocated(out.timing.startMs / 1000);
      if (signal.aborted) throw signal.reason;
      const finishedMs = Date.now();
      const result = {
        ...out,
        timing: { queuedMs: startedMs - live.createdMs, ...out.timing, totalMs: finishedMs - live.createdMs },
      };
      await this.#finish(id, 'completed', result, undefined, finishedMs);
    } catch (err) {
      const reason = signal.aborted ? (signal.reason as AbortReason) : undefined;
      if (reason === 'cancelled')
        await this.#finish(id, 'cancelled', null, new HearthError('CANCELLED', 'cancelled while running'));
      else if (reason === 'shutdown') {
        await this.#finish(
          id,
          'error',
          null,
          new HearthError('INTERRUPTED', 'the server shut down while this ran'),
        );
      } else {
        const e = toHearthError(err);
        if (e.code === 'INTERNAL') this.log?.error({ err, job: id }, 'job failed');
        await this.#finish(id, 'error', null, e);
      }
    }
  }

  /** Ends a job for good: stored, then told to its waiters — also when the store cannot take it. */
  async #finish(
    id: string,
    status: 'completed' | 'error' | 'cancelled',
    result: Job['result'],
    err?: HearthError,
    finishedMs = Date.now(),
  ): Promise<void> {
    const live = this.#live.get(id);
    const known = live?.job ?? (await this.store.get(id).catch(() => undefined));
    const { fin, wrote } = await this.#finals.finish(
      id,
      { status, result, error: err ? errorInfo(err) : null, finishedAtMs: finishedMs },
      known,
    );
    this.#live.delete(id);
    if (!known) return;
    if (wrote) Object.assign(known, finalFields(fin));
    const started = known.startedAt ? Date.parse(known.startedAt) : finishedMs;
    if (wrote) this.#metrics?.jobFinished(fin.status, (finishedMs - started) / 1000);
    const told = wrote ? known : ((await this.store.get(id).catch(() => undefined)) ?? known);
    this.#bus.finish(told);
  }
}
