import { sql } from 'kysely';
import type {
  CommandEdge,
  CommandNode,
  CommandOutcome,
  FailureSignature,
  LearningStore,
  LearningTotals,
} from './learning-store.js';
import type { SqliteQueries } from './sqlite-queries.js';
import { guarded } from './store-errors.js';

/** Outcomes kept with their context; the counters hold everything older. */
const KEPT_OUTCOMES = 10_000;

interface NodeRow {
  command: string;
  successes: number;
  failures: number;
  success_duration_ms: number;
  last_seen_at: number;
}

const toNode = (r: NodeRow): CommandNode => ({
  command: r.command,
  successes: r.successes,
  failures: r.failures,
  successDurationMs: r.success_duration_ms,
  lastSeenAtMs: r.last_seen_at,
});

/** The command knowledge graph on SQLite (see LearningStore): counters upserted in one transaction per batch. */
export class SqliteLearningRows implements LearningStore {
  readonly #q: SqliteQueries;

  constructor(queries: SqliteQueries) {
    this.#q = queries;
  }

  async recordOutcomes(outcomes: readonly CommandOutcome[]): Promise<void> {
    if (!outcomes.length) return;
    const write = this.#q.raw.transaction(() => {
      for (const o of outcomes) this.#recordOne(o);
      const [last] = this.#q.rows<{ seq: number }>(
        this.#q.db.selectFrom('learn_outcomes').select('seq').orderBy('seq', 'desc').limit(1),
      );
      if (last && last.seq > KEPT_OUTCOMES) {
        this.#q.write(this.#q.db.deleteFrom('learn_outcomes').where('seq', '<=', last.seq - KEPT_OUTCOMES));
      }
    });
    guarded('record command outcomes', () => write());
  }

  #recordOne(o: CommandOutcome): void {
    const db = this.#q.db;
    const s = o.ok ? 1 : 0;
    const f = o.ok ? 0 : 1;
    const d = o.ok ? o.durationMs : 0;
    this.#q.write(
      db
        .insertInto('learn_commands')
        .values({
          command: o.command,
          successes: s,
          failures: f,
          success_duration_ms: d,
          last_seen_at: o.atMs,
        })
        .onConflict((oc) =>
          oc.column('command').doUpdateSet({
            successes: sql`successes + ${s}`,
            failures: sql`failures + ${f}`,
            success_duration_ms: sql`success_duration_ms + ${d}`,
            last_seen_at: o.atMs,
          }),
        ),
    );
    if (o.previous !== null) {
      this.#q.write(
        db
          .insertInto('learn_edges')
          .values({ previous: o.previous, command: o.command, successes: s, failures: f })
          .onConflict((oc) =>
            oc.columns(['previous', 'command']).doUpdateSet({
              successes: sql`successes + ${s}`,
              failures: sql`failures + ${f}`,
            }),
          ),
      );
    }
    if (!o.ok && o.signature !== null) {
      this.#q.write(
        db
          .insertInto('learn_signatures')
          .values({ command: o.command, signature: o.signature, count: 1, last_seen_at: o.atMs })
          .onConflict((oc) =>
            oc.columns(['command', 'signature']).doUpdateSet({ count: sql`count + 1`, last_seen_at: o.atMs }),
          ),
      );
    }
    if (o.ok && o.fixed) {
      this.#q.write(
        db
          .insertInto('learn_fixes')
          .values({ command: o.fixed.command, signature: o.fixed.signature, fix: o.command, count: 1 })
          .onConflict((oc) =>
            oc.columns(['command', 'signature', 'fix']).doUpdateSet({ count: sql`count + 1` }),
          ),
      );
    }
    this.#q.write(
      db.insertInto('learn_outcomes').values({
        command: o.command,
        previous: o.previous,
        ok: s,
        duration_ms: o.durationMs,
        signature: o.signature,
        context: JSON.stringify(o.context),
        at: o.atMs,
      }),
    );
  }

  async getCommand(command: string): Promise<CommandNode | undefined> {
    const [row] = guarded('read a command', () =>
      this.#q.rows<NodeRow>(
        this.#q.db.selectFrom('learn_commands').selectAll().where('command', '=', command),
      ),
    );
    return row && toNode(row);
  }

  async listCommands(opts: { limit: number }): Promise<CommandNode[]> {
    return guarded('list commands', () =>
      this.#q
        .rows<NodeRow>(
          this.#q.db
            .selectFrom('learn_commands')
            .selectAll()
            .orderBy(sql`successes + failures`, 'desc')
            .orderBy('command')
            .limit(opts.limit),
        )
        .map(toNode),
    );
  }

  async getEdge(previous: string, command: string): Promise<CommandEdge | undefined> {
    const [row] = guarded('read an edge', () =>
      this.#q.rows<CommandEdge>(
        this.#q.db
          .selectFrom('learn_edges')
          .selectAll()
          .where('previous', '=', previous)
          .where('command', '=', command),
      ),
    );
    return row;
  }

  async coOccurring(
    command: string,
    opts: { limit: number },
  ): Promise<Array<{ command: string; count: number }>> {
    const db = this.#q.db;
    // Both directions of adjacency count: what comes before a command is as related as what follows.
    const after = db
      .selectFrom('learn_edges')
      .select(['command as other', sql<number>`successes + failures`.as('n')])
      .where('previous', '=', command)
      .where('command', '!=', command);
    const before = db
      .selectFrom('learn_edges')
      .select(['previous as other', sql<number>`successes + failures`.as('n')])
      .where('command', '=', command)
      .where('previous', '!=', command);
    const rows = guarded('list related commands', () =>
      this.#q.rows<{ command: string; count: number }>(
        db
          .selectFrom(after.unionAll(before).as('adjacent'))
          .select(['other as command', sql<number>`sum(n)`.as('count')])
          .groupBy('other')
          .orderBy('count', 'desc')
          .orderBy('other')
          .limit(opts.limit),
      ),
    );
    return rows.map((r) => ({ command: r.command, count: Number(r.count) }));
  }

  async failureSignatures(opts: {
    minCount: number;
    command?: string;
    limit: number;
  }): Promise<FailureSignature[]> {
    const db = this.#q.db;
    let q = db
      .selectFrom('learn_signatures as s')
      .select(['s.command', 's.signature', 's.count', 's.last_seen_at'])
      .select((eb) => [
        eb
          .selectFrom('learn_fixes as f')
          .select('f.fix')
          .whereRef('f.command', '=', 's.command')
          .whereRef('f.signature', '=', 's.signature')
          .orderBy('f.count', 'desc')
          .orderBy('f.fix')
          .limit(1)
          .as('fix'),
        eb
          .selectFrom('learn_fixes as f')
          .select((e) => e.fn.max('f.count').as('c'))
          .whereRef('f.command', '=', 's.command')
          .whereRef('f.signature', '=', 's.signature')
          .as('fix_count'),
      ])
      .where('s.count', '>=', opts.minCount);
    if (opts.command !== undefined) q = q.where('s.command', '=', opts.command);
    const rows = guarded('list failure signatures', () =>
      this.#q.rows<{
        command: string;
        signature: string;
        count: number;
        last_seen_at: number;
        fix: string | null;
        fix_count: number | null;
      }>(q.orderBy('s.count', 'desc').orderBy('s.command').orderBy('s.signature').limit(opts.limit)),
    );
    return rows.map((r) => ({
      command: r.command,
      signature: r.signature,
      count: r.count,
      fix: r.fix,
      fixCount: r.fix_count ?? 0,
      lastSeenAtMs: r.last_seen_at,
    }));
  }

  async fixesOf(command: string): Promise<Array<{ command: string; count: number }>> {
    const db = this.#q.db;
    const rows = guarded('list fixes', () =>
      this.#q.rows<{ command: string; count: number }>(
        db
          .selectFrom('learn_fixes')
          .select(['fix as command', (eb) => eb.fn.sum<number>('count').as('count')])
          .where('command', '=', command)
          .groupBy('fix')
          .orderBy('count', 'desc')
          .orderBy('fix'),
      ),
    );
    return rows.map((r) => ({ command: r.command, count: Number(r.count) }));
  }

  async totals(): Promise<LearningTotals> {
    const count = (table: 'learn_commands' | 'learn_edges' | 'learn_signatures' | 'learn_outcomes') =>
      Number(
        this.#q.rows<{ n: number }>(
          this.#q.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')),
        )[0]?.n ?? 0,
      );
    return guarded('count the graph', () => ({
      commands: count('learn_commands'),
      edges: count('learn_edges'),
      signatures: count('learn_signatures'),
      outcomes: count('learn_outcomes'),
    }));
  }
}
