import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { JobMetrics, JobService } from '../jobs/service.js';

/** hearth's Prometheus metrics, on a registry of their own (several servers can share a process). */
export class ServerMetrics implements JobMetrics {
  readonly registry = new Registry();
  readonly #allocations: Counter;
  readonly #allocationSeconds: Histogram;
  readonly #jobs: Counter<'status'>;
  readonly #jobSeconds: Histogram;
  readonly #workflowRuns: Counter<'result'>;
  readonly #workflowRunSeconds: Histogram;
  readonly #workflowJobSeconds: Histogram<'result'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'hearth_process_' });
    this.#allocations = new Counter({
      name: 'hearth_sandbox_allocations_total',
      help: 'Sandboxes created (one per job, plus pool refills)',
      registers,
    });
    this.#allocationSeconds = new Histogram({
      name: 'hearth_sandbox_allocation_seconds',
      help: 'Time to get a ready sandbox (one-shot runs: everything outside the programs)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.#jobs = new Counter({
      name: 'hearth_jobs_total',
      help: 'Jobs finished, by status',
      labelNames: ['status'],
      registers,
    });
    this.#jobSeconds = new Histogram({
      name: 'hearth_job_duration_seconds',
      help: 'Started → finished',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    const workflowBuckets = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600];
    this.#workflowRuns = new Counter({
      name: 'hearth_workflow_runs_total',
      help: 'Workflow runs finished (webhook-triggered), by result',
      labelNames: ['result'],
      registers,
    });
    this.#workflowRunSeconds = new Histogram({
      name: 'hearth_workflow_run_duration_seconds',
      help: 'A workflow run, first job started → last job ended',
      buckets: workflowBuckets,
      registers,
    });
    this.#workflowJobSeconds = new Histogram({
      name: 'hearth_workflow_job_duration_seconds',
      help: 'A workflow job (one matrix leg, one sandbox), sandbox acquired → released, by result',
      labelNames: ['result'],
      buckets: workflowBuckets,
      registers,
    });
  }

  /** Gauges read from the service at scrape time. */
  watch(service: JobService): void {
    new Gauge({
      name: 'hearth_queue_depth',
      help: 'Jobs waiting to run',
      registers: [this.registry],
      collect() {
        this.set(service.queueDepth);
      },
    });
    new Gauge({
      name: 'hearth_jobs_running',
      help: 'Jobs running now',
      registers: [this.registry],
      collect() {
        this.set(service.runningCount);
      },
    });
    new Gauge({
      name: 'hearth_pool_ready',
      help: 'Ready sandboxes in the warm pool',
      registers: [this.registry],
      collect() {
        this.set(service.manager.pool.readyCount);
      },
    });
  }

  jobFinished(status: string, seconds: number): void {
    this.#jobs.inc({ status });
    this.#jobSeconds.observe(seconds);
  }

  /** A workflow run ended: its result and duration, and each of its jobs'. */
  workflowRunFinished(run: {
    result: string;
    durationMs: number;
    jobs: Array<{ result: string; durationMs: number }>;
  }): void {
    this.#workflowRuns.inc({ result: run.result });
    this.#workflowRunSeconds.observe(run.durationMs / 1000);
    for (const j of run.jobs) this.#workflowJobSeconds.observe({ result: j.result }, j.durationMs / 1000);
  }

  sandboxAllocated(seconds: number): void {
    this.#allocations.inc();
    this.#allocationSeconds.observe(seconds);
  }
}
