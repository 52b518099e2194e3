import { execFile } from 'node:child_process';
import { appendFile, chmod, chown, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { SANDBOX_USER } from '../agent/sandbox-user.js';

const run = promisify(execFile);

/** Paths removed from every rootfs: package indexes and caches, docs, manuals, translations. */
const SHRINK = [
  'var/lib/apt/lists',
  'var/cache/apt',
  'var/cache/debconf/templates.dat-old',
  'var/cache/debconf/config.dat-old',
  'var/log',
  'usr/share/doc',
  'usr/share/man',
  'usr/share/info',
  'usr/share/locale',
  'usr/share/lintian',
  'usr/share/linda',
];

async function emptyDir(path: string, mode: number): Promise<void> {
  await rm(path, { recursive: true, force: true });
  await mkdir(path, { recursive: true });
  await chmod(path, mode);
}

async function addLine(file: string, prefix: string, line: string): Promise<void> {
  const text = await readFile(file, 'utf8').catch(() => '');
  if (text.split('\n').some((l) => l.startsWith(prefix))) return;
  await appendFile(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}${line}\n`);
}

/**
 * Turns a fresh debootstrap tree into a sandbox rootfs: empty mount points, the sandbox user with
 * its home a symlink to the work dir, /etc/hosts, and no package caches, docs or locales.
 */
export async function prepareRootfs(root: string): Promise<void> {
  for (const dir of ['proc', 'dev', 'sys', '.hearth']) await emptyDir(join(root, dir), 0o755);
  await emptyDir(join(root, 'tmp'), 0o1777);
  const { name, uid, gid, home, workDir } = SANDBOX_USER;
  await emptyDir(join(root, workDir), 0o755);
  await chown(join(root, workDir), uid, gid);
  // The home is the work dir under a second name: each backend mounts or creates the work dir, and
  // a symlink in the read-only image follows it there without a mount per backend.
  await mkdir(join(root, posix.dirname(home)), { recursive: true });
  await rm(join(root, home), { recursive: true, force: true });
  await symlink(workDir, join(root, home));
  await addLine(
    join(root, 'etc/passwd'),
    `${name}:`,
    `${name}:x:${uid}:${gid}:hearth sandbox:${home}:/bin/bash`,
  );
  await addLine(join(root, 'etc/group'), `${name}:`, `${name}:x:${gid}:`);
  await addLine(join(root, 'etc/shadow'), `${name}:`, `${name}:*:19000:0:99999:7:::`);
  await writeFile(
    join(root, 'etc/hosts'),
    '127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  );
  await writeFile(join(root, 'etc/hostname'), 'sandbox\n');
  await writeFile(join(root, 'etc/resolv.conf'), '');

  // The tools layer is mounted at /.hearth; `node` also resolves without it on PATH.
  await mkdir(join(root, 'usr/local/bin'), { recursive: true });
  await rm(join(root, 'usr/local/bin/node'), { force: true });
  await symlink('/.hearth/bin/node', join(root, 'usr/local/bin/node'));

  for (const rel of SHRINK) {
    const path = join(root, rel);
    const keepDir =
      rel !== 'var/cache/debconf/templates.dat-old' && rel !== 'var/cache/debconf/config.dat-old';
    await rm(path, { recursive: true, force: true });
    if (keepDir) await mkdir(path, { recursive: true });
  }
  await mkdir(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  await mkdir(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
}

/** Apparent size of a tree in bytes, each hard-linked file counted once. */
export async function treeSizeBytes(root: string): Promise<number> {
  const { stdout } = await run('du', ['-s', '--bytes', root], { maxBuffer: 1 << 20 });
  return Number(stdout.split('\t')[0]) || 0;
}
