/**
 * `hearth workflow runs | retry | debug | delete`: the recorded runs in the state directory's store,
 * run in this process (as `workflow run` is).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { HearthError } from '../../errors/hearth-error.js';
import type { ManagedSandbox } from '../../sandboxes/managed-sandbox.js';
import type { WorkflowRunStatus } from '../../store/workflow-run-store.js';
import { parseEnvFile } from '../../workflows/executor/env-files.js';
import { SecretMask } from '../../workflows/executor/index.js';
import type { WorkflowRunResult } from '../../workflows/executor/types.js';
import { copyWorkspace } from '../../workflows/executor/workspace.js';
import { debugTarget } from '../../workflows/runs/debug-target.js';
import { printError } from '../report.js';
import { pad, positiveInt } from '../session-common.js';
import { runDebugShell } from '../workflow-debug-shell.js';
import { openWorkflowHost, type WorkflowHost } from '../workflow-host.js';

const STATUSES: WorkflowRunStatus[] = ['queued', 'running', 'success', 'failure', 'cancelled'];

/** `-s NAME=value`, or `-s NAME` to take the value from this process's environment (as act does). */
function collectSecret(v: string, prev: Record<string, string>): Record<string, string> {
  const eq = v.indexOf('=');
  if (eq === 0 || v === '') throw new HearthError('VALIDATION_FAILED', `expected NAME=value, got "${v}"`);
  if (eq > 0) return { ...prev, [v.slice(0, eq)]: v.slice(eq + 1) };
  const value = process.env[v];
  if (value === undefined)
    throw new HearthError('VALIDATION_FAILED', `secret ${v} has no value: give -s ${v}=value or set ${v}`);
  return { ...prev, [v]: value };
}

async function secretsOf(f: { secret: Record<string, string>; secretFile?: string }) {
  if (!f.secretFile) return f.secret;
  const text = await readFile(f.secretFile, 'utf8').catch((err: Error) => {
    throw new HearthError('VALIDATION_FAILED', `cannot read --secret-file ${f.secretFile}: ${err.message}`);
  });
  const parsed = parseEnvFile(text);
  if (parsed.problems.length > 0)
    throw new HearthError(
      'VALIDATION_FAILED',
      `--secret-file ${f.secretFile}: ${parsed.problems.join('; ')}`,
    );
  return { ...parsed.values, ...f.secret };
}

/** Opens the host, runs `fn`, closes it on every path; a HearthError is printed, exit code 2. */
async function withHost(fn: (host: WorkflowHost) => Promise<number | undefined>): Promise<void> {
  let host: WorkflowHost | undefined;
  try {
    host = await openWorkflowHost();
    const code = await fn(host);
    if (code !== undefined) process.exitCode = code;
  } catch (err) {
    process.exitCode = printError(err);
  } finally {
    await host?.close();
  }
}

function printSummary(r: WorkflowRunResult, runId: string, mask: (s: string) => string): void {
  const w = process.stdout;
  w.write(`\nrun ${runId}: ${r.result}\n`);
  for (const job of r.jobs) {
    w.write(`  ${pad(job.key, 24)} ${job.result}${job.error ? ` (${mask(job.error)})` : ''}\n`);
    for (const s of job.steps) {
      const carried = s.carriedFrom ? `  carried over from run ${s.carriedFrom}` : '';
      w.write(
        `    ${pad(String(s.index + 1), 3)} ${pad(mask(s.name).slice(0, 48), 48)} ${pad(s.conclusion, 9)}${carried}\n`,
      );
    }
  }
}

export function registerWorkflowRuns(program: Command): void {
  const workflow =
    program.commands.find((c) => c.name() === 'workflow') ??
    program.command('workflow').description('GitHub Actions workflows, run in sandboxes');

  workflow
    .command('runs')
    .description('Recorded workflow runs, newest first')
    .option('--status <status>', `one of ${STATUSES.join(', ')}`)
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'as JSON')
    .action((f: { status?: string; limit: string; json?: boolean }) =>
      withHost(async (host) => {
        if (f.status !== undefined && !STATUSES.includes(f.status as WorkflowRunStatus))
          throw new HearthError('VALIDATION_FAILED', `--status must be one of ${STATUSES.join(', ')}`);
        const runs = await host.store.workflowRuns.listRuns({
          limit: positiveInt('--limit', f.limit) ?? 20,
          ...(f.status ? { status: f.status as WorkflowRunStatus } : {}),
        });
        if (f.json) {
          const brief = runs.map(({ workflowContent: _c, eventPayload: _p, ...r }) => r);
          process.stdout.write(`${JSON.stringify(brief, null, 2)}\n`);
          return undefined;
        }
        for (const r of runs) {
          const at = new Date(r.createdAtMs).toISOString();
          const retry = r.retryOf ? `  retry of ${r.retryOf}` : '';
          process.stdout.write(`${pad(r.id, 38)} ${pad(r.status, 9)} ${at}  ${r.workflow}${retry}\n`);
        }
        return undefined;
      }),
    );

  workflow
    .command('delete <run>')
    .description("Delete a run's records and free its snapshots")
    .action((runId: string) =>
      withHost(async (host) => {
        await host.runs.deleteRun(runId);
        process.stdout.write(`deleted run ${runId}\n`);
        return undefined;
      }),
    );

  workflow
    .command('retry <run> [job]')
    .description('Run a job again from a step, starting from the snapshot taken before it')
    .option('--from-step <n>', "the step to start at (1 = the first); default: the job's failed step")
    .option(
      '-s, --secret <NAME=value>',
      'a secret (repeatable; NAME alone takes it from the environment)',
      collectSecret,
      {},
    )
    .option('--secret-file <file>', 'secrets as NAME=value lines')
    .option('--json', 'the result as JSON')
    .action(
      (
        runId: string,
        job: string | undefined,
        f: { fromStep?: string; secret: Record<string, string>; secretFile?: string; json?: boolean },
      ) =>
        withHost(async (host) => {
          const secrets = await secretsOf(f);
          const secretMask = new SecretMask();
          secretMask.addAll(secrets);
          const mask = (text: string) => secretMask.apply(text);
          const fromStep = positiveInt('--from-step', f.fromStep);
          const { runId: id, result } = await host.runs.retry(runId, {
            ...(job ? { job } : {}),
            ...(fromStep ? { fromStep } : {}),
            secrets,
            mask: secretMask,
            ...(f.json
              ? {}
              : {
                  onLog: (leg: string, step: string, _stream: string, line: string) =>
                    process.stdout.write(`[${leg}] ${mask(step)} | ${mask(line)}\n`),
                }),
          });
          if (f.json) process.stdout.write(`${mask(JSON.stringify({ ...result, runId: id }, null, 2))}\n`);
          else printSummary(result, id, mask);
          return result.result === 'success' ? 0 : 1;
        }),
    );

  workflow
    .command('debug <run> [job]')
    .description("A shell in the job's sandbox as it was before the step that failed")
    .action((runId: string, job: string | undefined) =>
      withHost(async (host) => {
        const t = await debugTarget(host.store.workflowRuns, runId, job ? { job } : {});
        const err = process.stderr;
        if (t.failed) {
          const exit = t.failed.exitCode === null ? '' : ` (exit code ${t.failed.exitCode})`;
          err.write(`step ${t.failed.index + 1} "${t.failed.name}" of job ${t.leg.legKey} failed${exit}\n`);
        } else err.write(`job ${t.leg.legKey} did not fail; the shell is after its last step\n`);
        if (t.script !== undefined) err.write(`it ran:\n${t.script.replace(/^/gm, '  ')}\n`);
        err.write(`in ${t.workingDirectory}\n`);
        err.write(
          t.from
            ? `the sandbox is restored from the snapshot taken after step ${t.afterStep}\n`
            : 'the sandbox is fresh, with the repository in the workspace\n',
        );
        let sandbox: ManagedSandbox | undefined;
        const release = () => void sandbox?.release().catch(() => {});
        // A killed CLI still frees the sandbox (closing the host releases what the manager holds).
        const onSignal = () => {
          if (process.stdin.isTTY) process.stdin.setRawMode(false);
          release();
          void host.close().finally(() => process.exit(130));
        };
        process.once('SIGTERM', onSignal);
        process.once('SIGHUP', onSignal);
        process.once('SIGINT', onSignal);
        try {
          sandbox = await host.manager.acquire({
            image: t.run.image,
            ...(t.run.backend ? { backend: t.run.backend } : {}),
            labels: { workflow_run: t.run.id, workflow_job: t.leg.legKey, purpose: 'debug' },
            slot: 'long',
            ...(t.from ? { from: t.from } : {}),
          });
          if (!t.from && t.run.repositoryDir) await copyWorkspace(sandbox, t.run.repositoryDir, '/home/user');
          err.write('type exit to leave the shell; the sandbox is freed then\n');
          return await runDebugShell({
            sandbox,
            env: t.env,
            path: t.path,
            cwd: t.workingDirectory,
            labels: { workflow_run: t.run.id, workflow_job: t.leg.legKey },
          });
        } finally {
          process.off('SIGTERM', onSignal);
          process.off('SIGHUP', onSignal);
          process.off('SIGINT', onSignal);
          await sandbox?.release();
        }
      }),
    );
}
