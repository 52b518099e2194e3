import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import { HearthError } from '../errors/hearth-error.js';
import { splitResult } from '../jobs/output.js';
import type { JobResult } from '../jobs/types.js';
import type { Database } from './schema.js';

/** Schema changes, in code, applied in name order; never edit one that has shipped — add another. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-jobs-and-sandboxes': {
    // biome-ignore lint/suspicious/noExplicitAny: a migration sees the schema as it was then, not today's types
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('jobs')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('language', 'text', (c) => c.notNull())
        .addColumn('version', 'text')
        .addColumn('backend', 'text')
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('owner_pid', 'integer')
        .execute();
      await db.schema.createIndex('jobs_status_seq').on('jobs').columns(['status', 'seq']).execute();
      await db.schema.createIndex('jobs_language_seq').on('jobs').columns(['language', 'seq']).execute();
      await db.schema
        .createTable('sandboxes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_pid', 'integer', (c) => c.notNull())
        .addColumn('record', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '0002-job-outputs-as-bytes': {
    // Outputs move out of the result JSON (where non-UTF-8 bytes were kept twice, as replaced text
    // and as base64) into a table of their own as BLOBs at their size, read only by `get`; jobs
    // rows keep a small result, so a list never touches the outputs. Rows written before are
    // converted in place, a batch at a time.
    // biome-ignore lint/suspicious/noExplicitAny: a migration sees the schema as it was then
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('job_outputs')
        .ifNotExists()
        .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('stream', 'text', (c) => c.notNull())
        .addColumn('bytes', 'blob', (c) => c.notNull())
        .addPrimaryKeyConstraint('job_outputs_pk', ['job_id', 'key', 'stream'])
        .execute();
      await db.schema
        .createIndex('jobs_finished_at')
        .ifNotExists()
        .on('jobs')
        .column('finished_at')
        .execute();
      let after = 0;
      for (;;) {
        const rows: Array<{ seq: number; id: string; result: string }> = await db
          .selectFrom('jobs')
          .select(['seq', 'id', 'result'])
          .where('result', 'is not', null)
          .where('seq', '>', after)
          .orderBy('seq')
          .limit(100)
          .execute();
        if (!rows.length) break;
        after = rows.at(-1)?.seq ?? after;
        await db.transaction().execute(async (trx) => {
          for (const row of rows) {
            const old = JSON.parse(row.result) as JobResult;
            if (typeof old.stdout !== 'string') continue;
            const { meta, outputs } = splitResult(old);
            await trx.deleteFrom('job_outputs').where('job_id', '=', row.id).execute();
            for (const o of outputs) {
              await trx
                .insertInto('job_outputs')
                .values({ job_id: row.id, key: o.key, stream: o.stream, bytes: o.bytes })
                .execute();
            }
            await trx
              .updateTable('jobs')
              .set({ result: JSON.stringify(meta) })
              .where('seq', '=', row.seq)
              .execute();
          }
        });
      }
    },
  },
  '0003-sandbox-rows-sessions-snapshots': {
    // The host ledger keeps its rows under a name of its own; `sandboxes` becomes the manager's
    // table, where a sandbox is owned by a worker's renewed lease instead of a local pid. Sessions
    // and their snapshots are rows too, so a paused session outlives the server.
    // biome-ignore lint/suspicious/noExplicitAny: a migration sees the schema as it was then
    async up(db: Kysely<any>) {
      await db.schema.alterTable('sandboxes').renameTo('host_resources').execute();
      await db.schema
        .createTable('sandboxes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('backend', 'text', (c) => c.notNull())
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('owner_worker', 'text', (c) => c.notNull())
        .addColumn('lease_until', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sandboxes_owner').on('sandboxes').column('owner_worker').execute();
      await db.schema.createIndex('sandboxes_lease').on('sandboxes').column('lease_until').execute();
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('backend', 'text', (c) => c.notNull())
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('sandbox_id', 'text')
        .addColumn('paused_snapshot_id', 'text')
        .addColumn('error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_state').on('sessions').columns(['state', 'created_at']).execute();
      await db.schema.createIndex('sessions_expires').on('sessions').column('expires_at').execute();
      // Rows go with their session; the files in `dir` are the caller's to remove first.
      await db.schema
        .createTable('snapshots')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('backend', 'text', (c) => c.notNull())
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('info', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('dir', 'text', (c) => c.notNull())
        .addColumn('size_bytes', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('snapshots_session')
        .on('snapshots')
        .columns(['session_id', 'created_at'])
        .execute();
    },
  },
  '0004-command-graph': {
    // The command knowledge graph: nodes are normalized commands, an edge previous → command counts
    // its successes and failures together, signatures are counted per command and so are the
    // commands that fixed them. `learn_outcomes` keeps the latest outcomes with their context.
    // biome-ignore lint/suspicious/noExplicitAny: a migration sees the schema as it was then
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('learn_commands')
        .addColumn('command', 'text', (c) => c.primaryKey())
        .addColumn('successes', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('success_duration_ms', 'real', (c) => c.notNull().defaultTo(0))
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('learn_edges')
        .addColumn('previous', 'text', (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('successes', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('learn_edges_pk', ['previous', 'command'])
        .execute();
      await db.schema.createIndex('learn_edges_command').on('learn_edges').column('command').execute();
      await db.schema
        .createTable('learn_signatures')
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('learn_signatures_pk', ['command', 'signature'])
        .execute();
      await db.schema
        .createTable('learn_fixes')
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('fix', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('learn_fixes_pk', ['command', 'signature', 'fix'])
        .execute();
      await db.schema
        .createTable('learn_outcomes')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('previous', 'text')
        .addColumn('ok', 'integer', (c) => c.notNull())
        .addColumn('duration_ms', 'real', (c) => c.notNull())
        .addColumn('signature', 'text')
        .addColumn('context', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '0005-github-deliveries': {
    // GitHub webhook deliveries, keyed by X-GitHub-Delivery so a redelivery is recognised, with
    // the payload until the delivery is handled (a server that stopped before that resumes it);
    // and the workflow runs they asked for, queued for the runner.
    // biome-ignore lint/suspicious/noExplicitAny: a migration sees the schema as it was then
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('github_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('repository', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .addColumn('payload', 'text')
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('github_deliveries_status')
        .on('github_deliveries')
        .columns(['status', 'received_at'])
        .execute();
      await db.schema
        .createTable('workflow_requests')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('delivery_id', 'text')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('sha', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('workflows', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('workflow_requests_delivery')
        .on('workflow_requests')
        .column('delivery_id')
        .execute();
    },
  },
  '0006-workflow-runs': {
    // Workflow runs with their legs, steps and step snapshots. A step keeps the state a retry from
    // the step after it resumes with; secrets are kept by name only. Jobs, steps and snapshots go
    // with their run.
    // biome-ignore lint/suspicious/noExplicitAny: a migration sees the schema as it was then
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('workflow_runs')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('workflow', 'text', (c) => c.notNull())
        .addColumn('workflow_path', 'text')
        .addColumn('workflow_content', 'text', (c) => c.notNull())
        .addColumn('repository_dir', 'text')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('event_payload', 'text', (c) => c.notNull())
        .addColumn('inputs', 'text', (c) => c.notNull())
        .addColumn('vars', 'text', (c) => c.notNull())
        .addColumn('secret_names', 'text', (c) => c.notNull())
        .addColumn('backend', 'text')
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('snapshots', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('retry_of', 'text')
        .addColumn('owner_pid', 'integer')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('workflow_runs_status_seq')
        .on('workflow_runs')
        .columns(['status', 'seq'])
        .execute();
      await db.schema
        .createTable('workflow_jobs')
        .addColumn('run_id', 'text', (c) => c.notNull().references('workflow_runs.id').onDelete('cascade'))
        .addColumn('leg_key', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('sandbox_id', 'text')
        .addColumn('started_at', 'bigint')
        .addColumn('duration_ms', 'real')
        .addColumn('error', 'text')
        .addColumn('outputs', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('workflow_jobs_pk', ['run_id', 'leg_key'])
        .execute();
      await db.schema
        .createTable('workflow_steps')
        .addColumn('run_id', 'text', (c) => c.notNull().references('workflow_runs.id').onDelete('cascade'))
        .addColumn('leg_key', 'text', (c) => c.notNull())
        .addColumn('step_index', 'integer', (c) => c.notNull())
        .addColumn('step_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('conclusion', 'text', (c) => c.notNull())
        .addColumn('exit_code', 'integer')
        .addColumn('started_at', 'bigint')
        .addColumn('duration_ms', 'real', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('log', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('advice', 'text')
        .addColumn('outputs', 'text', (c) => c.notNull())
        .addColumn('snapshot_id', 'text')
        .addColumn('state', 'text')
        .addColumn('carried_from', 'text')
        .addPrimaryKeyConstraint('workflow_steps_pk', ['run_id', 'leg_key', 'step_index'])
        .execute();
      await db.schema
        .createTable('workflow_snapshots')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('run_id', 'text', (c) => c.notNull().references('workflow_runs.id').onDelete('cascade'))
        .addColumn('leg_key', 'text', (c) => c.notNull())
        .addColumn('step_index', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('dir', 'text', (c) => c.notNull())
        .addColumn('info', 'text', (c) => c.notNull())
        .addColumn('size_bytes', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('workflow_snapshots_run')
        .on('workflow_snapshots')
        .columns(['run_id', 'leg_key', 'step_index'])
        .execute();
      await db.schema
        .createIndex('workflow_snapshots_created')
        .on('workflow_snapshots')
        .column('created_at')
        .execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/**
 * Brings the schema up to date; a failure names the migration. `to` stops at a named migration,
 * to build a database as an older hearth left it.
 */
export async function migrate(db: Kysely<Database>, opts: { to?: string } = {}): Promise<void> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await (opts.to ? migrator.migrateTo(opts.to) : migrator.migrateToLatest());
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new HearthError('INTERNAL', `database migration ${failed} failed: ${String(error)}`, {
      cause: error,
      hint: 'Check that the database file (HEARTH_DB) is writable and not from a newer hearth.',
    });
  }
  await sql`select 1`.execute(db);
}
