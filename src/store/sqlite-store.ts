import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import { type Compilable, Kysely, type Selectable, SqliteDialect } from 'kysely';
import { HearthError } from '../errors/hearth-error.js';
import type { Job, JobStatus } from '../jobs/types.js';
import type { SandboxLedger } from '../sandboxes/ledger.js';
import type { FinishJob, JobListQuery, JobPage, JobStore, NewJob, UnfinishedJob } from './job-store.js';
import { migrate } from './migrations.js';
import type { Database, JobsTable } from './schema.js';
import { SqliteLedger } from './sqlite-ledger.js';

export interface SqliteStoreOptions {
  /** The database file, or `:memory:`. */
  path: string;
  /** How long a writer waits for a lock held by another process. @default 5000 */
  busyTimeoutMs?: number;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function toJob(row: Selectable<JobsTable>): Job {
  return {
    id: row.id,
    status: row.status as JobStatus,
    language: row.language,
    version: row.version,
    backend: row.backend,
    request: JSON.parse(row.request),
    result: row.result === null ? null : JSON.parse(row.result),
    error: row.error === null ? null : JSON.parse(row.error),
    createdAt: new Date(row.created_at).toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    attempts: row.attempts,
  };
}

const encodeCursor = (seq: number): string => Buffer.from(`s${seq}`).toString('base64url');

function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString();
  const seq = /^s(\d{1,15})$/.exec(text)?.[1];
  if (seq === undefined) throw new HearthError('VALIDATION_FAILED', 'cursor is not one this server returned');
  return Number(seq);
}

/** The embedded store: one SQLite file in WAL mode, queries built by Kysely. */
export class SqliteStore implements JobStore {
  readonly ledger: SandboxLedger;
  readonly #raw: Sqlite.Database;
  readonly #db: Kysely<Database>;
  /** Statements by SQL text: the hot path's queries are built by Kysely but prepared only once. */
  readonly #prepared = new Map<string, Sqlite.Statement>();
  #closing: Promise<void> | undefined;

  private constructor(raw: Sqlite.Database) {
    this.#raw = raw;
    this.#db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    this.ledger = new SqliteLedger(raw);
  }

  /** Opens (creating if needed) and migrates the database. */
  static async open(opts: SqliteStoreOptions): Promise<SqliteStore> {
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    let raw: Sqlite.Database;
    try {
      raw = new Sqlite(opts.path, { timeout: opts.busyTimeoutMs ?? 5000 });
    } catch (err) {
      throw new HearthError('INTERNAL', `cannot open the database ${opts.path}: ${(err as Error).message}`, {
        cause: err,
        hint: 'Check HEARTH_DB (or HEARTH_HOME) points at a writable location.',
      });
    }
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.pragma('foreign_keys = ON');
    const store = new SqliteStore(raw);
    try {
      await migrate(store.#db);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** Runs a Kysely-built write on a cached prepared statement; returns the rows it changed. */
  #write(query: Compilable): number {
    const { sql, parameters } = query.compile();
    return this.#statement(sql).run(...parameters).changes;
  }

  #statement(sql: string): Sqlite.Statement {
    let stmt = this.#prepared.get(sql);
    if (!stmt) {
      stmt = this.#raw.prepare(sql);
      this.#prepared.set(sql, stmt);
    }
    return stmt;
  }

  async insert(job: NewJob): Promise<void> {
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
    );
  }

  async get(id: string): Promise<Job | undefined> {
    const { sql, parameters } = this.#db.selectFrom('jobs').selectAll().where('id', '=', id).compile();
    const row = this.#statement(sql).get(...parameters) as Selectable<JobsTable> | undefined;
    return row && toJob(row);
  }

  async markRunning(
    id: string,
    o: { backend: string; ownerPid: number; startedAtMs: number },
  ): Promise<boolean> {
    const changed = this.#write(
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
    );
    return changed > 0;
  }

  async finish(id: string, fin: FinishJob): Promise<boolean> {
    const changed = this.#write(
      this.#db
        .updateTable('jobs')
        .set({
          status: fin.status,
          result: fin.result ? JSON.stringify(fin.result) : null,
          error: fin.error ? JSON.stringify(fin.error) : null,
          finished_at: fin.finishedAtMs,
        })
        .where('id', '=', id)
        .where('status', 'in', ['queued', 'running']),
    );
    return changed > 0;
  }

  async list(query: JobListQuery): Promise<JobPage> {
    const limit = Math.max(1, Math.min(query.limit ?? 50, 500));
    let q = this.#db
      .selectFrom('jobs')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(limit + 1);
    if (query.status) q = q.where('status', '=', query.status);
    if (query.language) q = q.where('language', '=', query.language);
    if (query.cursor) q = q.where('seq', '<', decodeCursor(query.cursor));
    const rows = await q.execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { jobs: page.map(toJob), nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null };
  }

  async unfinished(): Promise<UnfinishedJob[]> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select(['id', 'status', 'owner_pid'])
      .where('status', 'in', ['queued', 'running'])
      .orderBy('seq', 'asc')
      .execute();
    return rows.map((r) => ({ id: r.id, status: r.status as 'queued' | 'running', ownerPid: r.owner_pid }));
  }

  async requeue(id: string): Promise<boolean> {
    const r = await this.#db
      .updateTable('jobs')
      .set({ status: 'queued', owner_pid: null, started_at: null })
      .where('id', '=', id)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  close(): Promise<void> {
    this.#closing ??= this.#db.destroy().catch(() => {
      if (this.#raw.open) this.#raw.close();
    });
    return this.#closing;
  }
}
