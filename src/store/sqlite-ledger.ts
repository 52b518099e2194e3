import type BetterSqlite3 from 'better-sqlite3';
import type { SandboxLedger, SandboxRecord } from '../sandboxes/ledger.js';

/**
 * The SandboxLedger on SQLite. Synchronous like the port (better-sqlite3 is), so a backend can
 * record a sandbox before it starts a single process and remove it as the last step of destroy().
 */
export class SqliteLedger implements SandboxLedger {
  readonly #db: BetterSqlite3.Database;
  #stmts:
    | {
        put: BetterSqlite3.Statement<[string, number, string, number]>;
        remove: BetterSqlite3.Statement<[string]>;
        list: BetterSqlite3.Statement<[], { record: string }>;
      }
    | undefined;

  /** The `sandboxes` table must exist (see migrations.ts); statements are prepared at first use. */
  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  get #s() {
    this.#stmts ??= {
      put: this.#db.prepare(
        `insert into sandboxes (id, owner_pid, record, created_at) values (?, ?, ?, ?)
         on conflict (id) do update set owner_pid = excluded.owner_pid, record = excluded.record`,
      ),
      remove: this.#db.prepare('delete from sandboxes where id = ?'),
      list: this.#db.prepare('select record from sandboxes order by created_at, id'),
    };
    return this.#stmts;
  }

  put(record: SandboxRecord): void {
    this.#s.put.run(record.id, record.ownerPid, JSON.stringify(record), Date.now());
  }

  remove(id: string): void {
    this.#s.remove.run(id);
  }

  list(): SandboxRecord[] {
    return this.#s.list.all().map((row) => JSON.parse(row.record) as SandboxRecord);
  }
}
