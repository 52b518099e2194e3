import type { Command } from 'commander';
import { hearthPaths } from '../../config/paths.js';
import { HearthError } from '../../errors/hearth-error.js';
import { loadCatalog } from '../../images/catalog.js';
import { jobsConfig } from '../../jobs/config.js';
import { LanguageCatalog, type LanguageInfo } from '../../jobs/languages.js';
import { managerConfigFor } from '../../jobs/service.js';
import type { JobSummary } from '../../jobs/summary.js';
import { JOB_STATUSES, type JobStatus } from '../../jobs/types.js';
import { SandboxManager } from '../../sandboxes/manager.js';
import { SqliteStore } from '../../store/sqlite-store.js';
import { clientFromEnv } from '../job-events.js';
import { printError } from '../report.js';

interface ListFlags {
  status?: string;
  language?: string;
  limit: string;
  json?: boolean;
}

async function listJobs(f: ListFlags): Promise<JobSummary[]> {
  if (f.status !== undefined && !(JOB_STATUSES as readonly string[]).includes(f.status)) {
    throw new HearthError('VALIDATION_FAILED', `--status must be one of ${JOB_STATUSES.join(', ')}`);
  }
  const q = {
    ...(f.status ? { status: f.status as JobStatus } : {}),
    ...(f.language ? { language: f.language } : {}),
    limit: Number(f.limit),
  };
  const client = clientFromEnv();
  if (client) return (await client.jobs.list(q)).jobs;
  const store = await SqliteStore.open({ path: hearthPaths().db });
  try {
    return (await store.list(q)).jobs;
  } finally {
    await store.close();
  }
}

async function languages(): Promise<LanguageInfo[]> {
  const client = clientFromEnv();
  if (client) return client.languages();
  const catalog = loadCatalog();
  const manager = new SandboxManager({
    config: { ...managerConfigFor(jobsConfig()), poolSize: 0 },
    paths: hearthPaths(),
  });
  const langs = new LanguageCatalog({ catalog, manager, paths: hearthPaths() });
  try {
    const first = langs.list();
    await Promise.all(
      [...new Set(first.filter((l) => l.available).map((l) => l.image))].map((i) => langs.probe(i)),
    );
    return langs.list();
  } finally {
    await langs.close();
    await manager.close();
  }
}

const pad = (s: string, n: number) => s.padEnd(n);

/** `hearth jobs list` and `hearth languages`: from the server at HEARTH_URL, else from this host. */
export function registerJobs(program: Command): void {
  const jobs = program.command('jobs').description('Jobs run by `hearth serve`');
  jobs
    .command('list')
    .description('Jobs, newest first (HEARTH_URL, else the local database)')
    .option('--status <status>', `one of ${JOB_STATUSES.join(', ')}`)
    .option('--language <lang>', 'only this language')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'as JSON')
    .action(async (f: ListFlags) => {
      try {
        const list = await listJobs(f);
        if (f.json) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `${pad('ID', 38)}${pad('STATUS', 11)}${pad('LANGUAGE', 12)}${pad('EXIT', 6)}CREATED\n`,
        );
        for (const j of list) {
          const exit = j.result ? String(j.result.exitCode ?? j.result.signal) : (j.error?.code ?? '');
          process.stdout.write(
            `${pad(j.id, 38)}${pad(j.status, 11)}${pad(j.language, 12)}${pad(exit, 6)}${j.createdAt}\n`,
          );
        }
      } catch (err) {
        process.exitCode = printError(err);
      }
    });

  program
    .command('languages')
    .description('Languages, their versions and whether their image is built')
    .option('--json', 'as JSON')
    .action(async (f: { json?: boolean }) => {
      try {
        const list = await languages();
        if (f.json) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          return;
        }
        for (const l of list) {
          const state = l.available ? 'ready' : `image ${l.image} not built`;
          process.stdout.write(
            `${pad(l.name, 12)}${pad(l.version ?? '-', 10)}${pad(l.compiled ? 'compiled' : '', 10)}${pad(l.aliases.join(', '), 22)}${state}\n`,
          );
        }
      } catch (err) {
        process.exitCode = printError(err);
      }
    });
}
