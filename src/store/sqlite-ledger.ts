import type BetterSqlite3 from 'better-sqlite3';
import type { SandboxLedger, SandboxRecord } from '../host/ledger.js';
import { guarded, isTransientStoreError, storeError } from './store-errors.js';

/**
 * The SandboxLedger on SQLite. Synchronous like the port (better-sqlite3 is), so a backend can
 * record a sandbox before it starts a single process and remove it as the last step of destroy().
 */
export class SqliteLedger implements SandboxLedger {
  readonly #db: BetterSqlite3.Database;
  /**
   * Records whose removal could not be written (disk full): the sandbox is already gone, so the
   * removal is kept here, hidden from `list`, and written at the next ledger call that can.
   */
  readonly #unremoved = new Set<string>();
  #stmts:
    | {
        put: BetterSqlite3.Statement<[string, number, string, number]>;
        remove: BetterSqlite3.Statement<[string]>;
        list: BetterSqlite3.Statement<[], { record: string }>;
      }
    | undefined;

  /** The `host_resources` table must exist (see migrations.ts); statements are prepared at first use. */
  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  get #s() {
    this.#stmts ??= {
      put: this.#db.prepare(
        `insert into host_resources (id, owner_pid, record, created_at) values (?, ?, ?, ?)
         on conflict (id) do update set owner_pid = excluded.owner_pid, record = excluded.record`,
      ),
      remove: this.#db.prepare('delete from host_resources where id = ?'),
      list: this.#db.prepare('select record from host_resources order by created_at, id'),
    };
    return this.#stmts;
  }

  /** Throws STORE_FULL / STORE_UNAVAILABLE when it cannot be written: the sandbox must not start unrecorded. */
  put(record: SandboxRecord): void {
    this.#flush();
    this.#unremoved.delete(record.id);
    guarded('record the sandbox', () =>
      this.#s.put.run(record.id, record.ownerPid, JSON.stringify(record), Date.now()),
    );
  }

  /** Never throws for a full or busy store: cleanup paths call it last, after the sandbox is gone. */
  remove(id: string): void {
    this.#flush();
    try {
      this.#s.remove.run(id);
    } catch (err) {
      const e = storeError(err, 'remove the sandbox record');
      if (!isTransientStoreError(e)) throw e;
      this.#unremoved.add(id);
    }
  }

  list(): SandboxRecord[] {
    this.#flush();
    return guarded('list sandbox records', () => this.#s.list.all())
      .map((row) => JSON.parse(row.record) as SandboxRecord)
      .filter((r) => !this.#unremoved.has(r.id));
  }

  #flush(): void {
    for (const id of this.#unremoved) {
      try {
        this.#s.remove.run(id);
        this.#unremoved.delete(id);
      } catch {
        return;
      }
    }
  }
}
