import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { HearthError } from '../../errors/hearth-error.js';
import { loadCatalog } from '../../images/catalog.js';
import type { Job, JobRequest } from '../../jobs/types.js';
import { jobEvents } from '../job-events.js';
import { jobExitCode, printError, timingLine } from '../report.js';

interface RunFlags {
  language?: string;
  code?: string;
  stdin?: string;
  arg: string[];
  timeout?: string;
  backend?: string;
  json?: boolean;
  timing?: boolean;
}

/** The catalog language whose file has this extension (`hello.py` → python). */
export function languageForFile(file: string): string {
  const ext = extname(file).toLowerCase();
  const lang = Object.values(loadCatalog().languages).find((l) => extname(l.file).toLowerCase() === ext);
  if (!ext || !lang) {
    throw new HearthError('UNKNOWN_LANGUAGE', `cannot tell the language of ${basename(file)}`, {
      hint: 'Pass -l <language>; `hearth languages` lists them.',
    });
  }
  return lang.name;
}

function readInput(path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new HearthError('FILE_NOT_FOUND', `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

function buildRequest(file: string | undefined, f: RunFlags): JobRequest {
  if (file === undefined && f.code === undefined) {
    throw new HearthError('EMPTY_CODE', 'give a file or -c <code>', {
      hint: 'e.g. hearth run hello.py, or hearth run -l python -c "print(1)"',
    });
  }
  const language = f.language ?? (file ? languageForFile(file) : undefined);
  if (!language) throw new HearthError('VALIDATION_FAILED', '-c needs -l <language>');
  const req: JobRequest = { language, code: f.code ?? readInput(file as string, 'the file') };
  if (f.stdin !== undefined) req.stdin = readInput(f.stdin, 'stdin from');
  if (f.arg.length) req.args = f.arg;
  if (f.backend) req.backend = f.backend;
  if (f.timeout !== undefined) {
    const timeoutMs = Number(f.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
      throw new HearthError('VALIDATION_FAILED', '--timeout takes milliseconds');
    req.limits = { timeoutMs };
  }
  return req;
}

async function runCommand(file: string | undefined, flags: RunFlags): Promise<number> {
  const request = buildRequest(file, flags);
  let streamed = false;
  for await (const e of jobEvents(request)) {
    if (e.type === 'output' && !flags.json) {
      streamed = true;
      const out = e.stream === 'stdout' && e.stage === 'run' ? process.stdout : process.stderr;
      out.write(e.data);
    } else if (e.type === 'result') {
      if (flags.json) process.stdout.write(`${JSON.stringify(e.job, null, 2)}\n`);
      // A job that finished before the stream was joined comes as its result alone: print its output from there.
      else if (!streamed) writeOutputOf(e.job);
      const code = jobExitCode(e.job);
      const timing = flags.timing ? timingLine(e.job) : undefined;
      if (timing) process.stderr.write(`${timing}\n`);
      return code;
    }
  }
  throw new HearthError('SANDBOX_LOST', 'the job stream ended without a result');
}

/** A finished job's output, as the events would have printed it: the program's stdout on stdout, the rest on stderr. */
function writeOutputOf(job: Job): void {
  const r = job.result;
  if (!r) return;
  if (r.compile && r.stage === 'run') process.stderr.write(r.compile.stdout + r.compile.stderr);
  if (r.stage === 'run') {
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
  } else process.stderr.write(r.stdout + r.stderr);
}

const collect = (v: string, prev: string[]) => [...prev, v];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const serverUrl = (flag?: string) => flag ?? process.env.HEARTH_URL ?? 'http://127.0.0.1:8080';

async function classicCall(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const token = process.env.HEARTH_TOKEN;
  const res = await fetch(`${url.replace(/\/+$/, '')}${path}`, {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  }).catch((err: Error) => {
    throw new HearthError('BACKEND_UNAVAILABLE', `cannot reach ${url}: ${err.message}`, {
      hint: 'Start a server with `hearth serve`, or pass --backend <url>.',
    });
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const e = (json.error ?? {}) as { code?: string; message?: string; hint?: string };
    throw new HearthError('BAD_REQUEST', e.message ?? `HTTP ${res.status}`, { hint: e.hint ?? '' });
  }
  return json;
}

/** `hearth run`, and the classic `hearth go` and `hearth status`. */
export function registerRun(program: Command): void {
  program
    .command('run [file]')
    .description("Run a program in a fresh sandbox and stream its output (exit code = the program's)")
    .option('-l, --language <lang>', 'language or alias (default: from the file extension)')
    .option('-c, --code <code>', 'the program text instead of a file')
    .option('--stdin <file>', 'feed this file (or - for this stdin) to the program')
    .option('--arg <arg>', 'an argument for the program (repeatable)', collect, [])
    .option('--timeout <ms>', 'wall-clock limit in milliseconds')
    .option('--backend <name>', 'sandbox backend: bwrap, gvisor, qemu, firecracker')
    .option('--json', 'print the finished job as JSON instead of streaming')
    .option('--timing', "after the output, print the job's timing and usage as one line on stderr")
    .addHelpText('after', '\nWith HEARTH_URL set, runs on that server (SSE); otherwise in this process.')
    .action(async (file: string | undefined, flags: RunFlags) => {
      try {
        process.exitCode = await runCommand(file, flags);
      } catch (err) {
        process.exitCode = printError(err);
      }
    });

  program
    .command('go')
    .description(
      'Classic interface: submit a file with POST /run, poll GET /status every second, print the output',
    )
    .requiredOption('-l, --language <lang>', 'language or alias')
    .requiredOption('-f, --file <file>', 'the program')
    .option('--backend <url>', 'the server (default: HEARTH_URL or http://127.0.0.1:8080)')
    .action(async (o: { language: string; file: string; backend?: string }) => {
      try {
        const url = serverUrl(o.backend);
        const { id } = await classicCall(url, 'POST', '/run', {
          language: o.language,
          code: readInput(o.file, 'the file'),
        });
        process.stderr.write(`job ${id}\n`);
        for (;;) {
          const s = await classicCall(url, 'GET', `/status/${id}`);
          if (s.status === 'done' || s.status === 'error') {
            process.stdout.write(String(s.stdout ?? ''));
            process.stderr.write(String(s.stderr ?? ''));
            process.exitCode = s.status === 'done' && typeof s.exit_code === 'number' ? s.exit_code : 2;
            return;
          }
          await sleep(1000);
        }
      } catch (err) {
        process.exitCode = printError(err);
      }
    });

  program
    .command('status <id>')
    .description("Classic interface: a job's status (GET /status/:id) as JSON")
    .option('--backend <url>', 'the server (default: HEARTH_URL or http://127.0.0.1:8080)')
    .action(async (id: string, o: { backend?: string }) => {
      try {
        process.stdout.write(
          `${JSON.stringify(await classicCall(serverUrl(o.backend), 'GET', `/status/${encodeURIComponent(id)}`), null, 2)}\n`,
        );
      } catch (err) {
        process.exitCode = printError(err);
      }
    });
}
