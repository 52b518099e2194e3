import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { HearthError } from '../../errors/hearth-error.js';
import { action, pad, positiveInt, printJson, sessionsClient } from '../session-common.js';

function readLocal(path: string): Buffer {
  try {
    return readFileSync(path === '-' ? 0 : path);
  } catch (err) {
    throw new HearthError('FILE_NOT_FOUND', `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** `hearth session files ls | cat | put | rm | mkdir`: a session's files, confined to its sandbox. */
export function registerSessionFiles(session: Command): void {
  const files = session.command('files').description("A session's files");

  files
    .command('ls <id> [path]')
    .description('List a directory (default: the working directory)')
    .option('--depth <n>', 'how deep to descend (default 1)')
    .option('--json', 'as JSON')
    .action(
      action(async (id: string, path: string | undefined, f: { depth?: string; json?: boolean }) => {
        const depth = positiveInt('--depth', f.depth);
        const list = await sessionsClient().listFiles(id, path ?? '.', depth ? { depth } : {});
        if (f.json) printJson(list);
        else {
          for (const e of list) {
            const kind = e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : e.type === 'file' ? '-' : '?';
            const mode = (e.mode & 0o7777).toString(8).padStart(4, '0');
            process.stdout.write(`${kind}${mode} ${pad(String(e.size), 10)} ${e.mtime} ${e.path}\n`);
          }
        }
        return 0;
      }),
    );

  files
    .command('cat <id> <path>')
    .description("Write a file's bytes to stdout")
    .action(
      action(async (id: string, path: string) => {
        process.stdout.write(await sessionsClient().readFile(id, path));
        return 0;
      }),
    );

  files
    .command('put <id> <local> <path>')
    .description('Copy a local file (or - for stdin) to path in the session')
    .option('--json', 'print the new file as JSON')
    .action(
      action(async (id: string, local: string, path: string, f: { json?: boolean }) => {
        const entry = await sessionsClient().writeFile(id, path, readLocal(local));
        if (f.json) printJson(entry);
        return 0;
      }),
    );

  files
    .command('rm <id> <path>')
    .description('Remove a file (with -r, a directory and what it holds)')
    .option('-r, --recursive', 'remove directories and what they hold')
    .action(
      action(async (id: string, path: string, f: { recursive?: boolean }) => {
        await sessionsClient().removeFile(id, path, f.recursive ? { recursive: true } : {});
        return 0;
      }),
    );

  files
    .command('mkdir <id> <path>')
    .description('Make a directory (and its parents)')
    .option('--json', 'print it as JSON')
    .action(
      action(async (id: string, path: string, f: { json?: boolean }) => {
        const entry = await sessionsClient().makeDir(id, path);
        if (f.json) printJson(entry);
        return 0;
      }),
    );
}
