import type Sqlite from 'better-sqlite3';
import type { Compilable, Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Runs Kysely-built queries on better-sqlite3 synchronously, each prepared once by its SQL text:
 * the store's hot paths are built by Kysely (the portable subset a PostgreSQL store shares) but
 * not re-prepared per call.
 */
export class SqliteQueries {
  readonly raw: Sqlite.Database;
  readonly db: Kysely<Database>;
  readonly #prepared = new Map<string, Sqlite.Statement>();

  constructor(raw: Sqlite.Database, db: Kysely<Database>) {
    this.raw = raw;
    this.db = db;
  }

  /** Runs a write; returns the rows it changed. */
  write(query: Compilable): number {
    const { sql, parameters } = query.compile();
    return this.#statement(sql).run(...parameters).changes;
  }

  /** `cache: false` for a query whose text varies (a list of ids, a set of filters), so the cache stays small. */
  rows<T>(query: Compilable, opts: { cache?: boolean } = {}): T[] {
    const { sql, parameters } = query.compile();
    const stmt = opts.cache === false ? this.raw.prepare(sql) : this.#statement(sql);
    return stmt.all(...parameters) as T[];
  }

  #statement(sql: string): Sqlite.Statement {
    let stmt = this.#prepared.get(sql);
    if (!stmt) {
      stmt = this.raw.prepare(sql);
      this.#prepared.set(sql, stmt);
    }
    return stmt;
  }
}
