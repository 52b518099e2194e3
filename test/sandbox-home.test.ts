/**
 * The sandbox user as E2B code expects it, on every usable backend (bwrap, gVisor, one qemu case),
 * through the real SessionService: uid 1000 is `user` with HOME /home/user, and /home/user is the
 * work dir under a second name — a file the API writes under one path is read under the other, a
 * command's relative paths land there, and a filesystem snapshot keeps what was written under
 * /home/user. Hearth's own default stays /work.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/registry.js';
import { hearthPaths } from '../src/config/paths.js';
import type { HearthError } from '../src/errors/hearth-error.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { settledLeftovers } from './leak-check.js';
import { openSessionService } from './session-service-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-sandbox-home-'));
const paths = { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') };

const open = (backend: string) => openSessionService(paths, backend);

type Service = Awaited<ReturnType<typeof open>>['sessions'];

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return (err as HearthError | undefined)?.code ?? 'resolved';
}

async function sh(sessions: Service, id: string, cmd: string, cwd?: string): Promise<string> {
  const r = await sessions.runCommand(id, { cmd, timeoutMs: 60_000, ...(cwd ? { cwd } : {}) });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return r.stdout;
}

const WHO =
  'whoami; id -u; echo "$HOME|$USER|$LOGNAME"; getent passwd user | cut -d: -f6; pwd; cd ~ && pwd; ' +
  `python3 -c "import os; os.chdir(os.path.expanduser('~')); print(os.path.expanduser('~'), os.getcwd())"`;

/** A directory's entry names, sorted (not `ls`: the gVisor here refuses coreutils' statx flags). */
const names = (dir: string) => `find ${dir} -mindepth 1 -maxdepth 1 -printf '%f\\n' | sort`;

/** Who programs are, and that /home/user and /work are one directory both ways. */
async function checkHome(sessions: Service, id: string): Promise<void> {
  // getcwd() answers with the real path (/work) — a bind mount per backend would be needed for
  // /home/user there; the shell's `pwd` keeps the path it was given.
  expect(await sh(sessions, id, WHO)).toBe(
    'user\n1000\n/home/user|user|user\n/home/user\n/work\n/home/user\n/home/user /work\n',
  );

  await sessions.writeFile(id, '/home/user/a.txt', 'through home');
  const owners = "find /work/a.txt /home/user/a.txt -printf '%u:%U\\n'";
  expect(await sh(sessions, id, `cat /work/a.txt; echo; ${owners}`)).toBe(
    'through home\nuser:1000\nuser:1000\n',
  );
  await sessions.writeFile(id, '/work/sub/b.txt', 'through work');
  expect(await sh(sessions, id, `cat /home/user/sub/b.txt; echo; ${names('/home/user/')}`)).toBe(
    'through work\na.txt\nsub\n',
  );

  await sh(sessions, id, 'echo relative > c.txt; mkdir -p d && echo deep > d/e.txt', '/home/user');
  expect((await sessions.readFile(id, '/work/c.txt')).toString()).toBe('relative\n');
  expect((await sessions.readFile(id, '/home/user/d/e.txt')).toString()).toBe('deep\n');
  expect((await sessions.readFile(id, 'c.txt')).toString()).toBe('relative\n');
  expect(await sh(sessions, id, 'pwd; cat a.txt', '/home/user')).toBe('/home/user\nthrough home');
  expect((await sessions.listFiles(id, '/home/user')).map((e) => e.name).sort()).toEqual(
    ['a.txt', 'c.txt', 'd', 'sub'].sort(),
  );

  // The home leads only to the work dir: the image's symlink cannot be replaced or removed.
  expect(await codeOf(sessions.removeFile(id, '/home/user', { recursive: true }))).toBe('PATH_ESCAPE');
  expect(await codeOf(sessions.writeFile(id, '/home/other.txt', 'x'))).toBe('PATH_ESCAPE');
  expect(await sh(sessions, id, `readlink /home/user; ${names('/work')}`)).toBe(
    '/work\na.txt\nc.txt\nd\nsub\n',
  );
}

afterAll(async () => {
  const left = existsSync(paths.snapshots) ? readdirSync(paths.snapshots) : [];
  rmSync(dir, { recursive: true, force: true });
  expect(left).toEqual([]);
  expect(await settledLeftovers({ settleMs: 5000 })).toEqual([]);
});

for (const name of ['bwrap', 'gvisor', 'qemu'] as const) {
  const probe = await (await loadBackend(name, { ledger: new MemoryLedger() })).probe();
  if (!probe.usable) {
    describe.skip(`the sandbox user on ${name} — skipped: ${probe.reason}`, () =>
      it('backend is usable', () => {}));
    continue;
  }
  const vm = name === 'qemu';

  describe(`the sandbox user on ${name}`, () => {
    it(
      vm
        ? 'is user with home /home/user, the work dir under a second name'
        : 'is user with home /home/user, the work dir under a second name, kept by a filesystem snapshot',
      async () => {
        const svc = await open(name);
        try {
          const s = await svc.sessions.createSession({ image: 'default' });
          expect(s.backend).toBe(name);
          await checkHome(svc.sessions, s.id);
          if (!vm) {
            const snap = await svc.sessions.createSnapshot(s.id, { name: 'home' });
            expect(snap.kind).toBe('filesystem');
            await svc.sessions.writeFile(s.id, '/home/user/after.txt', 'dropped');
            await svc.sessions.writeFile(s.id, '/home/user/a.txt', 'changed');
            await svc.sessions.restoreSnapshot(s.id, snap.id);
            expect((await svc.sessions.readFile(s.id, '/home/user/a.txt')).toString()).toBe('through home');
            expect(await sh(svc.sessions, s.id, 'cat ~/sub/b.txt; echo; whoami; echo $HOME')).toBe(
              'through work\nuser\n/home/user\n',
            );
            expect(await codeOf(svc.sessions.statFile(s.id, '/home/user/after.txt'))).toBe('FILE_NOT_FOUND');
            await svc.sessions.deleteSnapshot(snap.id);
          }
          await svc.sessions.deleteSession(s.id);
        } finally {
          await svc.close();
        }
      },
      vm ? 600_000 : 60_000,
    );
  });
}
