import type { Command } from 'commander';
import type { SessionCreateRequest, SessionState, SnapshotKind } from '../../api/sessions.js';
import { HearthError } from '../../errors/hearth-error.js';
import {
  action,
  collectPairs,
  pad,
  positiveInt,
  printJson,
  printSession,
  sessionHeader,
  sessionLine,
  sessionsClient,
} from '../session-common.js';
import { registerSessionFiles } from './session-files.js';
import { registerSessionRun } from './session-run.js';

interface CreateFlags {
  image?: string;
  language?: string;
  backend?: string;
  ttl?: string;
  memory?: string;
  vcpus?: string;
  disk?: string;
  env: Record<string, string>;
  meta: Record<string, string>;
  json?: boolean;
}

const STATES: SessionState[] = ['starting', 'running', 'paused', 'dead', 'ended'];
const KINDS: SnapshotKind[] = ['memory', 'filesystem'];

function createRequest(f: CreateFlags): SessionCreateRequest {
  const num = (flag: string, v?: string) => positiveInt(flag, v);
  const ttlMs = num('--ttl', f.ttl);
  const memoryMb = num('--memory', f.memory);
  const vcpus = num('--vcpus', f.vcpus);
  const diskMb = num('--disk', f.disk);
  return {
    ...(f.image ? { image: f.image } : {}),
    ...(f.language ? { language: f.language } : {}),
    ...(f.backend ? { backend: f.backend } : {}),
    ...(ttlMs ? { ttlMs } : {}),
    ...(memoryMb ? { memoryMb } : {}),
    ...(vcpus ? { vcpus } : {}),
    ...(diskMb ? { diskMb } : {}),
    ...(Object.keys(f.env).length ? { env: f.env } : {}),
    ...(Object.keys(f.meta).length ? { metadata: f.meta } : {}),
  };
}

/** `hearth session …`: sessions on the server at HEARTH_URL. */
export function registerSession(program: Command): void {
  const session = program
    .command('session')
    .description('Long-lived sandboxes on the server at HEARTH_URL (default http://127.0.0.1:8080)');

  session
    .command('create')
    .description('Start a session; prints its id (with --json, the session)')
    .option('--image <name>', 'a catalog image (`hearth images list`)')
    .option('-l, --language <lang>', 'or a language: the session gets its image')
    .option('--backend <name>', 'bwrap, gvisor, qemu, firecracker')
    .option('--ttl <ms>', 'lifetime in milliseconds (default 30 minutes)')
    .option('--memory <mb>', 'memory in MiB')
    .option('--vcpus <n>', 'virtual CPUs')
    .option('--disk <mb>', 'writable disk in MiB')
    .option('--env <KEY=VALUE>', 'an environment variable (repeatable)', collectPairs, {})
    .option('--meta <KEY=VALUE>', 'a label to find it by (repeatable)', collectPairs, {})
    .option('--json', 'as JSON')
    .action(
      action(async (f: CreateFlags) => {
        const s = await sessionsClient().createSession(createRequest(f));
        if (f.json) printJson(s);
        else process.stdout.write(`${s.id}\n`);
        return 0;
      }),
    );

  session
    .command('list')
    .description('Sessions, filtered by state and labels')
    .option('--state <state>', `one of ${STATES.join(', ')}`)
    .option('--meta <KEY=VALUE>', 'only sessions with this label (repeatable)', collectPairs, {})
    .option('--json', 'as JSON')
    .action(
      action(async (f: { state?: string; meta: Record<string, string>; json?: boolean }) => {
        if (f.state !== undefined && !STATES.includes(f.state as SessionState)) {
          throw new HearthError('VALIDATION_FAILED', `--state must be one of ${STATES.join(', ')}`);
        }
        const list = await sessionsClient().listSessions({
          ...(f.state ? { states: [f.state as SessionState] } : {}),
          ...(Object.keys(f.meta).length ? { metadata: f.meta } : {}),
        });
        if (f.json) printJson(list);
        else process.stdout.write(sessionHeader() + list.map(sessionLine).join(''));
        return 0;
      }),
    );

  const one = (name: string, description: string, call: (id: string) => Promise<unknown>) =>
    session
      .command(`${name} <id>`)
      .description(description)
      .option('--json', 'as JSON')
      .action(
        action(async (id: string, f: { json?: boolean }) => {
          const s = await call(id);
          if (s && typeof s === 'object') printSession(s as never, f.json);
          return 0;
        }),
      );
  one('get', "A session's state, backend, capabilities and expiry", (id) => sessionsClient().getSession(id));
  one('pause', 'Save the session and free its sandbox until resume', (id) =>
    sessionsClient().pauseSession(id),
  );
  one('resume', 'Start a paused session again', (id) => sessionsClient().resumeSession(id));

  session
    .command('extend <id> <ttlMs>')
    .description('The session now ends ttlMs milliseconds from now')
    .option('--json', 'as JSON')
    .action(
      action(async (id: string, ttl: string, f: { json?: boolean }) => {
        printSession(await sessionsClient().extendSession(id, positiveInt('ttlMs', ttl) as number), f.json);
        return 0;
      }),
    );

  session
    .command('rm <ids...>')
    .description('End sessions: their sandboxes, files and snapshots are freed')
    .action(
      action(async (ids: string[]) => {
        const client = sessionsClient();
        for (const id of ids) await client.deleteSession(id);
        return 0;
      }),
    );

  session
    .command('snapshot <id>')
    .description('Snapshot a session; prints the snapshot id (with --json, the snapshot)')
    .option('--name <name>', 'a name for it')
    .option('--kind <kind>', `${KINDS.join(' or ')} (default: the richest the backend has)`)
    .option('--json', 'as JSON')
    .action(
      action(async (id: string, f: { name?: string; kind?: string; json?: boolean }) => {
        if (f.kind !== undefined && !KINDS.includes(f.kind as SnapshotKind)) {
          throw new HearthError('VALIDATION_FAILED', `--kind must be one of ${KINDS.join(', ')}`);
        }
        const snap = await sessionsClient().createSnapshot(id, {
          ...(f.name ? { name: f.name } : {}),
          ...(f.kind ? { kind: f.kind as SnapshotKind } : {}),
        });
        if (f.json) printJson(snap);
        else process.stdout.write(`${snap.id}\n`);
        return 0;
      }),
    );

  session
    .command('snapshots <id>')
    .description("A session's snapshots")
    .option('--json', 'as JSON')
    .action(
      action(async (id: string, f: { json?: boolean }) => {
        const list = await sessionsClient().listSnapshots(id);
        if (f.json) {
          printJson(list);
          return 0;
        }
        process.stdout.write(
          `${pad('ID', 38)}${pad('KIND', 12)}${pad('SIZE', 12)}${pad('CREATED', 26)}NAME\n`,
        );
        for (const s of list) {
          process.stdout.write(
            `${pad(s.id, 38)}${pad(s.kind, 12)}${pad(String(s.sizeBytes), 12)}${pad(s.createdAt, 26)}${s.name}\n`,
          );
        }
        return 0;
      }),
    );

  session
    .command('restore <id> <snapshotId>')
    .description('Put the session back as it was at the snapshot (it keeps its id)')
    .option('--json', 'as JSON')
    .action(
      action(async (id: string, snapshotId: string, f: { json?: boolean }) => {
        printSession(await sessionsClient().restoreSnapshot(id, snapshotId), f.json);
        return 0;
      }),
    );

  session
    .command('fork <snapshotId>')
    .description('Start a new session from a snapshot; prints its id (with --json, the session)')
    .option('--ttl <ms>', 'lifetime in milliseconds')
    .option('--meta <KEY=VALUE>', 'a label (repeatable)', collectPairs, {})
    .option('--json', 'as JSON')
    .action(
      action(
        async (snapshotId: string, f: { ttl?: string; meta: Record<string, string>; json?: boolean }) => {
          const ttlMs = positiveInt('--ttl', f.ttl);
          const s = await sessionsClient().forkSnapshot(snapshotId, {
            ...(ttlMs ? { ttlMs } : {}),
            ...(Object.keys(f.meta).length ? { metadata: f.meta } : {}),
          });
          if (f.json) printJson(s);
          else process.stdout.write(`${s.id}\n`);
          return 0;
        },
      ),
    );

  session
    .command('snapshot-rm <snapshotIds...>')
    .description('Delete snapshots')
    .action(
      action(async (ids: string[]) => {
        const client = sessionsClient();
        for (const id of ids) await client.deleteSnapshot(id);
        return 0;
      }),
    );

  registerSessionRun(session);
  registerSessionFiles(session);
}
