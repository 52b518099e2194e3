import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import { type Compilable, Kysely, type Selectable, SqliteDialect } from 'kysely';
import { HearthError } from '../errors/hearth-error.js';
import type { SandboxLedger } from '../host/ledger.js';
import { type StoredOutput, splitResult } from '../jobs/output.js';
import type { JobPage } from '../jobs/summary.js';
import { FINAL_STATUSES, type Job, type OutputStream } from '../jobs/types.js';
import type { GitHubStore } from './github-store.js';
import {
  decodeCursor,
  encodeCursor,
  SUMMARY_COLUMNS,
  type SummaryRow,
  toJob,
  toSummary,
} from './job-rows.js';
import type { FinishJob, JobListQuery, NewJob, PruneQuery, UnfinishedJob } from './job-store.js';
import type { LearningStore } from './learning-store.js';
import { migrate } from './migrations.js';
import type { SandboxRowStore } from './sandbox-row-store.js';
import type { Database, JobsTable } from './schema.js';
import type { SessionStore } from './session-store.js';
import type { SnapshotStore } from './snapshot-store.js';
import { SqliteGitHubRows } from './sqlite-github-rows.js';
import { SqliteLearningRows } from './sqlite-learning-rows.js';
import { SqliteLedger } from './sqlite-ledger.js';
import { SqliteQueries } from './sqlite-queries.js';
import { SqliteSandboxRows } from './sqlite-sandbox-rows.js';
import { SqliteSessionRows } from './sqlite-session-rows.js';
import { SqliteSnapshotRows } from './sqlite-snapshot-rows.js';
import { SqliteWorkflowRunRows } from './sqlite-workflow-run-rows.js';
import type { Store } from './store.js';
import { guarded } from './store-errors.js';
import type { WorkflowRunStore } from './workflow-run-store.js';

export interface SqliteStoreOptions {
  /** The database file, or `:memory:`. */
  path: string;
  /** How long a writer waits for a lock held by another process. @default 5000 */
  busyTimeoutMs?: number;
}

const FINAL = [...FINAL_STATUSES];
/** Jobs deleted per transaction by `prune`, so a large backlog never holds the write lock for long. */
const PRUNE_BATCH = 500;
/** Pages handed back to the filesystem per step after a prune (8 MiB of 4 KiB pages). */
const VACUUM_PAGES = 2048;

const yieldToEvents = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The embedded store: one SQLite file in WAL mode, queries built by Kysely. Outputs live as BLOBs
 * in `job_outputs`, read only by `get`. The file is in incremental auto-vacuum mode: `prune` hands
 * the pages of deleted jobs back to the filesystem, so retention frees disk, not just file space.
 */
export class SqliteStore implements Store {
  readonly ledger: SandboxLedger;
  readonly sandboxes: SandboxRowStore;
  readonly sessions: SessionStore;
  readonly snapshots: SnapshotStore;
  readonly learning: LearningStore;
  readonly github: GitHubStore;
  readonly workflowRuns: WorkflowRunStore;
  readonly #raw: Sqlite.Database;
  readonly #db: Kysely<Database>;
  readonly #q: SqliteQueries;
  #closing: Promise<void> | undefined;

  private constructor(raw: Sqlite.Database) {
    this.#raw = raw;
    this.#db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    this.ledger = new SqliteLedger(raw);
    this.#q = new SqliteQueries(raw, this.#db);
    this.sandboxes = new SqliteSandboxRows(this.#q);
    this.sessions = new SqliteSessionRows(this.#q);
    this.snapshots = new SqliteSnapshotRows(this.#q);
    this.learning = new SqliteLearningRows(this.#q);
    this.github = new SqliteGitHubRows(this.#q);
    this.workflowRuns = new SqliteWorkflowRunRows(this.#q);
  }

  /** Opens (creating if needed) and migrates the database. */
  static async open(opts: SqliteStoreOptions): Promise<SqliteStore> {
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    let raw: Sqlite.Database;
    try {
      raw = new Sqlite(opts.path, { timeout: opts.busyTimeoutMs ?? 5000 });
      // Before the first table exists this sets the mode of a new file; an older file is
      // converted below, once.
      raw.pragma('auto_vacuum = INCREMENTAL');
      raw.pragma('journal_mode = WAL');
    } catch (err) {
      throw new HearthError('INTERNAL', `cannot open the database ${opts.path}: ${(err as Error).message}`, {
        cause: err,
        hint: 'Check HEARTH_DB (or HEARTH_HOME) points at a writable location.',
      });
    }
    raw.pragma('synchronous = NORMAL');
    raw.pragma('foreign_keys = ON');
    const store = new SqliteStore(raw);
    try {
      await migrate(store.#db);
    } catch (err) {
      await store.close();
      throw err;
    }
    if (raw.pragma('auto_vacuum', { simple: true }) !== 2) {
      // A file made before incremental vacuum: VACUUM rewrites it in that mode. It needs room for
      // a copy; without it the file keeps working and reuses freed pages itself.
      try {
        raw.exec('VACUUM');
      } catch {}
    }
    return store;
  }

  #write(query: Compilable): number {
    return this.#q.write(query);
  }

  #rows<T>(query: Compilable, opts: { cache?: boolean } = {}): T[] {
    return this.#q.rows<T>(query, opts);
  }

  async insert(job: NewJob): Promise<void> {
    guarded('store the job', () =>
      this.#write(
        this.#db.insertInto('jobs').values({
          id: job.id,
          status: 'queued',
          language: job.language,
          version: job.version,
          backend: job.backend,
          request: JSON.stringify(job.request),
          created_at: job.createdAtMs,
          attempts: 0,
        }),
      ),
    );
  }

  async get(id: string): Promise<Job | undefined> {
    return guarded('read the job', () => {
      const [row] = this.#rows<Selectable<JobsTable>>(
        this.#db.selectFrom('jobs').selectAll().where('id', '=', id),
      );
      if (!row) return undefined;
      const outputs =
        row.result === null
          ? []
          : this.#rows<StoredOutput>(
              this.#db.selectFrom('job_outputs').select(['key', 'stream', 'bytes']).where('job_id', '=', id),
            );
      return toJob(row, outputs);
    });
  }

  async markRunning(
    id: string,
    o: { backend: string; ownerPid: number; startedAtMs: number },
  ): Promise<boolean> {
    const changed = guarded('mark the job running', () =>
      this.#write(
        this.#db
          .updateTable('jobs')
          .set((eb) => ({
            status: 'running',
            backend: o.backend,
            owner_pid: o.ownerPid,
            started_at: o.startedAtMs,
            attempts: eb('attempts', '+', 1),
          }))
          .where('id', '=', id)
          .where('status', '=', 'queued'),
      ),
    );
    return changed > 0;
  }

  async finish(id: string, fin: FinishJob): Promise<boolean> {
    const split = fin.result ? splitResult(fin.result) : undefined;
    // One transaction: a job is final with all of its output, or not final at all.
    const write = this.#raw.transaction(() => {
      const changed = this.#write(
        this.#db
          .updateTable('jobs')
          .set({
            status: fin.status,
            result: split ? JSON.stringify(split.meta) : null,
            error: fin.error ? JSON.stringify(fin.error) : null,
            finished_at: fin.finishedAtMs,
          })
          .where('id', '=', id)
          .where('status', 'in', ['queued', 'running']),
      );
      for (const o of changed ? (split?.outputs ?? []) : []) {
        this.#write(
          this.#db
            .insertInto('job_outputs')
            .values({ job_id: id, key: o.key, stream: o.stream, bytes: o.bytes })
            .onConflict((c) => c.columns(['job_id', 'key', 'stream']).doUpdateSet({ bytes: o.bytes })),
        );
      }
      return changed;
    });
    return guarded('store the job result', () => write()) > 0;
  }

  async list(query: JobListQuery): Promise<JobPage> {
    const limit = Math.max(1, Math.min(query.limit ?? 50, 500));
    let q = this.#db
      .selectFrom('jobs')
      .select(SUMMARY_COLUMNS)
      .orderBy('seq', 'desc')
      .limit(limit + 1);
    if (query.status) q = q.where('status', '=', query.status);
    if (query.language) q = q.where('language', '=', query.language);
    if (query.cursor) q = q.where('seq', '<', decodeCursor(query.cursor));
    return guarded('list jobs', () => {
      const rows = this.#rows<SummaryRow>(q);
      const page = rows.slice(0, limit);
      const sizes = new Map<string, Map<string, number>>();
      const ids = page.filter((r) => r.result !== null).map((r) => r.id);
      if (ids.length) {
        // length() of a BLOB column reads its size from the record header, not the bytes.
        const q2 = this.#db
          .selectFrom('job_outputs')
          .select(['job_id', 'key', 'stream', (eb) => eb.fn<number>('length', ['bytes']).as('size')])
          .where('job_id', 'in', ids);
        for (const s of this.#rows<{ job_id: string; key: string; stream: OutputStream; size: number }>(q2, {
          cache: false,
        })) {
          const of = sizes.get(s.job_id) ?? new Map<string, number>();
          sizes.set(s.job_id, of.set(`${s.key}/${s.stream}`, s.size));
        }
      }
      const last = page.at(-1);
      return {
        jobs: page.map((r) => toSummary(r, sizes.get(r.id) ?? new Map())),
        nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null,
      };
    });
  }

  async prune(query: PruneQuery): Promise<number> {
    const keep = Math.max(0, Math.floor(query.keepFinished));
    const batch = (): number => {
      // The newest `keep` finished jobs' smallest seq: finished jobs below it are beyond the count.
      const [edge] = this.#rows<{ seq: number }>(
        this.#db
          .selectFrom('jobs')
          .select('seq')
          .where('status', 'in', FINAL)
          .orderBy('seq', 'desc')
          .limit(1)
          .offset(Math.max(0, keep - 1)),
      );
      const beyond = keep === 0 ? Number.MAX_SAFE_INTEGER : (edge?.seq ?? 0);
      // job_outputs rows go with their job (on delete cascade).
      return this.#write(
        this.#db.deleteFrom('jobs').where('seq', 'in', (eb) =>
          eb
            .selectFrom('jobs')
            .select('seq')
            .where('status', 'in', FINAL)
            .where((w) => w.or([w('finished_at', '<', query.finishedBeforeMs), w('seq', '<', beyond)]))
            .orderBy('seq')
            .limit(PRUNE_BATCH),
        ),
      );
    };
    // A batch at a time, letting other work run in between: a large backlog never stalls the server.
    const step = this.#raw.transaction(batch);
    let deleted = 0;
    for (let n = guarded('delete old jobs', step); n > 0; n = guarded('delete old jobs', step)) {
      deleted += n;
      await yieldToEvents();
    }
    if (deleted === 0) return 0;
    const free = () =>
      guarded('give freed space back', () => this.#raw.pragma('freelist_count', { simple: true }) as number);
    // Stops when a step frees nothing (a file not in incremental mode keeps its free pages for reuse).
    for (let left = free(), before = Number.POSITIVE_INFINITY; left > 0 && left < before; left = free()) {
      before = left;
      guarded('give freed space back', () => this.#raw.pragma(`incremental_vacuum(${VACUUM_PAGES})`));
      await yieldToEvents();
    }
    // The file shrinks at a checkpoint; TRUNCATE also empties the WAL the deletes filled.
    guarded('checkpoint', () => this.#raw.pragma('wal_checkpoint(TRUNCATE)'));
    return deleted;
  }

  async unfinished(): Promise<UnfinishedJob[]> {
    const rows = guarded('list unfinished jobs', () =>
      this.#rows<{ id: string; status: string; owner_pid: number | null }>(
        this.#db
          .selectFrom('jobs')
          .select(['id', 'status', 'owner_pid'])
          .where('status', 'in', ['queued', 'running'])
          .orderBy('seq', 'asc'),
      ),
    );
    return rows.map((r) => ({ id: r.id, status: r.status as 'queued' | 'running', ownerPid: r.owner_pid }));
  }

  async requeue(id: string): Promise<boolean> {
    const changed = guarded('requeue the job', () =>
      this.#write(
        this.#db
          .updateTable('jobs')
          .set({ status: 'queued', owner_pid: null, started_at: null })
          .where('id', '=', id)
          .where('status', '=', 'running'),
      ),
    );
    return changed > 0;
  }

  close(): Promise<void> {
    this.#closing ??= this.#db.destroy().catch(() => {
      if (this.#raw.open) this.#raw.close();
    });
    return this.#closing;
  }
}
