import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import { HearthError } from '../errors/hearth-error.js';
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
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Brings the schema up to date; a failure names the migration. */
export async function migrate(db: Kysely<Database>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new HearthError('INTERNAL', `database migration ${failed} failed: ${String(error)}`, {
      cause: error,
      hint: 'Check that the database file (HEARTH_DB) is writable and not from a newer hearth.',
    });
  }
  await sql`select 1`.execute(db);
}
