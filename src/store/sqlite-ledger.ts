import type BetterSqlite3 from 'better-sqlite3';
import type { SandboxLedger, SandboxRecord } from '../sandboxes/ledger.js';

/**
 * The SandboxLedger on SQLite. Synchronous like the port (better-sqlite3 is), so a backend can
 * record a sandbox before it starts a single process and remove it as the last step of destroy().
 */
export class SqliteLedger implements SandboxLedger {
  readonly #put: BetterSqlite3.Statement<[string, number, string, number]>;
  readonly #remove: BetterSqlite3.Statement<[string]>;
  readonly #list: BetterSqlite3.Statement<[], { record: string }>;

  constructor(db: BetterSqlite3.Database) {
    this.#put = db.prepare(
      `insert into sandboxes (id, owner_pid, record, created_at) values (?, ?, ?, ?)
       on conflict (id) do update set owner_pid = excluded.owner_pid, record = excluded.record`,
    );
    this.#remove = db.prepare('delete from sandboxes where id = ?');
    this.#list = db.prepare('select record from sandboxes order by created_at, id');
  }

  put(record: SandboxRecord): void {
    this.#put.run(record.id, record.ownerPid, JSON.stringify(record), Date.now());
  }

  remove(id: string): void {
    this.#remove.run(id);
  }

  list(): SandboxRecord[] {
    return this.#list.all().map((row) => JSON.parse(row.record) as SandboxRecord);
  }
}
