import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Command } from 'commander';
import type { CodeLanguage, CodeResult, CommandRequest, CommandResult } from '../../api/sessions.js';
import { HearthError } from '../../errors/hearth-error.js';
import { InteractiveCommand } from '../../sdk/interactive.js';
import { action, collectPairs, positiveInt, printJson, sessionsClient } from '../session-common.js';

interface ExecFlags {
  interactive?: boolean;
  cwd?: string;
  env: Record<string, string>;
  stdin?: string;
  timeout?: string;
  background?: boolean;
  json?: boolean;
}

interface CodeFlags {
  language?: string;
  context?: string;
  code?: string;
  timeout?: string;
  json?: boolean;
}

const LANGUAGES: CodeLanguage[] = ['python', 'javascript', 'typescript', 'bash'];

function readInput(path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new HearthError('FILE_NOT_FOUND', `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** The CLI's exit code for a finished command: its own, or 128 + the signal's number. */
function exitCodeOf(r: CommandResult): number {
  if (r.timedOut) process.stderr.write('hearth: the command timed out and was killed\n');
  if (r.truncated) process.stderr.write('hearth: output was cut at the output limit\n');
  if (r.outOfMemory) process.stderr.write('hearth: the command ran out of memory\n');
  if (r.exitCode !== null) return r.exitCode;
  const n = r.signal ? constants.signals[r.signal as keyof typeof constants.signals] : undefined;
  return 128 + (n ?? 9);
}

/** After streamed output: the value of the last expression, then the error, as a REPL shows them. */
function reportCode(r: CodeResult): number {
  if (r.result) process.stdout.write(`${r.result.text}\n`);
  const extra = r.result ? Object.keys(r.result.formats).filter((f) => f !== 'text/plain') : [];
  if (extra.length) process.stderr.write(`hearth: the result also has ${extra.join(', ')} (see --json)\n`);
  if (r.error) process.stderr.write(`${r.error.traceback || `${r.error.name}: ${r.error.value}`}\n`);
  if (r.timedOut) process.stderr.write('hearth: the code timed out and was interrupted\n');
  if (r.contextLost) process.stderr.write('hearth: the interpreter is gone; restart or delete the context\n');
  if (r.outputTruncated) process.stderr.write('hearth: output was cut at the output limit\n');
  return r.error || r.timedOut || r.contextLost ? 1 : 0;
}

const stream = {
  onStdout: (d: string) => void process.stdout.write(d),
  onStderr: (d: string) => void process.stderr.write(d),
};

/** A command fed from this process's stdin over the session's WebSocket; Ctrl-C is its SIGINT. */
async function interactive(id: string, req: CommandRequest): Promise<CommandResult> {
  const cmd = await InteractiveCommand.open(sessionsClient().http, id, req, stream);
  const onData = (chunk: Buffer) => cmd.sendStdin(chunk.toString('utf8'));
  const onEnd = () => cmd.closeStdin();
  const onSigint = () => cmd.kill('SIGINT');
  process.stdin.on('data', onData);
  process.stdin.once('end', onEnd);
  process.on('SIGINT', onSigint);
  try {
    return await cmd.wait();
  } finally {
    process.stdin.off('data', onData);
    process.stdin.off('end', onEnd);
    process.off('SIGINT', onSigint);
    process.stdin.pause();
  }
}

/** `hearth session exec` and `hearth session code`: output streamed as it comes. */
export function registerSessionRun(session: Command): void {
  session
    .command('exec <id> <command...>')
    .description(
      "Run a command in the session, output streamed; one word runs with /bin/sh -c, several as argv (exit code = the command's)",
    )
    .option(
      '-i, --interactive',
      "this process's stdin goes to the command as it comes; Ctrl-C sends it SIGINT",
    )
    .option('--cwd <dir>', 'working directory inside the sandbox')
    .option('--env <KEY=VALUE>', 'an environment variable (repeatable)', collectPairs, {})
    .option('--stdin <file>', 'feed this file (or - for this stdin) to the command')
    .option('--timeout <ms>', 'kill it after this many milliseconds (default 60000)')
    .option('--background', 'start it and print its id (see `hearth session commands`)')
    .option('--json', 'print the result as JSON instead of streaming')
    .addHelpText('after', '\nPut -- before a command that has options: hearth session exec <id> -- ls -la /')
    .action(
      action(async (id: string, words: string[], f: ExecFlags) => {
        const timeoutMs = positiveInt('--timeout', f.timeout);
        const req: CommandRequest = {
          ...(words.length === 1 ? { cmd: words[0] as string } : { argv: words }),
          ...(f.cwd ? { cwd: f.cwd } : {}),
          ...(Object.keys(f.env).length ? { env: f.env } : {}),
          ...(f.stdin !== undefined ? { stdin: readInput(f.stdin, 'stdin from') } : {}),
          ...(timeoutMs ? { timeoutMs } : {}),
          ...(f.background ? { background: true } : {}),
        };
        if (f.interactive) {
          if (f.background || f.stdin !== undefined || f.json) {
            throw new HearthError(
              'VALIDATION_FAILED',
              '--interactive goes without --background, --stdin and --json',
            );
          }
          return exitCodeOf(await interactive(id, req));
        }
        const r = await sessionsClient().runCommand(id, req, f.json || f.background ? undefined : stream);
        if (f.json) printJson(r);
        if (f.background) {
          if (!f.json) process.stdout.write(`${r.id}\n`);
          return 0;
        }
        return exitCodeOf(r);
      }),
    );

  session
    .command('code <id> [file]')
    .description("Run code in the session's persistent interpreter (variables survive), output streamed")
    .option('-l, --language <lang>', `${LANGUAGES.join(', ')} (default python, or the context's)`)
    .option('-c, --code <code>', 'the code instead of a file (- or no file: read stdin)')
    .option('--context <id>', "an interpreter context id (default: the session's one of the language)")
    .option('--timeout <ms>', 'interrupt it after this many milliseconds (default 60000)')
    .option('--json', 'print the result as JSON instead of streaming')
    .action(
      action(async (id: string, file: string | undefined, f: CodeFlags) => {
        if (f.language !== undefined && !LANGUAGES.includes(f.language as CodeLanguage)) {
          throw new HearthError('UNKNOWN_LANGUAGE', `--language must be one of ${LANGUAGES.join(', ')}`);
        }
        const timeoutMs = positiveInt('--timeout', f.timeout);
        const code = f.code ?? readInput(file ?? '-', 'the code from');
        const r = await sessionsClient().runCode(
          id,
          {
            code,
            ...(f.language ? { language: f.language as CodeLanguage } : {}),
            ...(f.context ? { context: f.context } : {}),
            ...(timeoutMs ? { timeoutMs } : {}),
          },
          f.json ? undefined : stream,
        );
        if (!f.json) return reportCode(r);
        printJson(r);
        return r.error || r.timedOut || r.contextLost ? 1 : 0;
      }),
    );

  session
    .command('commands <id> [commandId]')
    .description("A session's commands (background ones with their output so far), or one of them")
    .option('--json', 'as JSON')
    .action(
      action(async (id: string, commandId: string | undefined, f: { json?: boolean }) => {
        const client = sessionsClient();
        if (commandId) {
          const r = await client.getCommand(id, commandId);
          if (f.json) printJson(r);
          else {
            process.stdout.write(r.stdout);
            process.stderr.write(r.stderr);
            if (r.state === 'running') process.stderr.write('hearth: still running\n');
          }
          return r.state === 'running' ? 0 : exitCodeOf(r);
        }
        const list = await client.listCommands(id);
        if (f.json) printJson(list);
        else {
          process.stdout.write('ID                                    STATE    EXIT\n');
          for (const r of list) {
            const exit = r.state === 'running' ? '' : String(r.exitCode ?? r.signal);
            process.stdout.write(`${r.id.padEnd(38)}${r.state.padEnd(9)}${exit}\n`);
          }
        }
        return 0;
      }),
    );

  session
    .command('kill <id> <commandId>')
    .description('Send a signal to a background command')
    .option('--signal <name>', 'the signal', 'SIGKILL')
    .option('--json', 'as JSON')
    .action(
      action(async (id: string, commandId: string, f: { signal: string; json?: boolean }) => {
        const r = await sessionsClient().killCommand(id, commandId, f.signal);
        if (f.json) printJson(r);
        return 0;
      }),
    );
}
