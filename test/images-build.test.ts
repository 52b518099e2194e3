import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type HearthPaths, hearthPaths } from '../src/config/paths.js';
import { HearthError } from '../src/errors/hearth-error.js';
import { sandboxFilterBytes } from '../src/host/seccomp.js';
import { acquireLock } from '../src/images/build-lock.js';
import { buildImage } from '../src/images/builder.js';
import { type Catalog, loadCatalog, parseCatalog } from '../src/images/catalog.js';
import { findUsers } from '../src/images/in-use.js';
import {
  BUILDER_VERSION,
  imageHash,
  listImages,
  pruneImage,
  removeImage,
  requireImage,
} from '../src/images/store.js';
import { ensureTools, TOOLS_KEEP } from '../src/images/tools.js';

const scratch = mkdtempSync(join(tmpdir(), 'hearth-images-'));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Paths whose images live in a scratch dir but share the real Debian package cache. */
function scratchPaths(name: string): HearthPaths {
  const real = hearthPaths();
  return { ...real, images: join(scratch, name, 'images'), tools: join(scratch, name, 'tools') };
}

const tinyCatalog: Catalog = parseCatalog(`
images:
  tiny: { description: test image, suite: bookworm, packages: [bash] }
languages:
  sh: { image: tiny, file: main.sh, run: [bash, main.sh], version: [bash, --version] }
`);

/** A process in its own mount namespace with `dir` bind-mounted, like a sandbox using an image. */
async function holdMount(dir: string): Promise<ChildProcess> {
  const child = spawn('unshare', [
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    `mount --bind '${dir}' /mnt && echo ready && exec sleep 60`,
  ]);
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`unshare exited with ${code}`)));
  });
  return child;
}

function fakeImage(paths: HearthPaths, name: string, hash: string): string {
  const dir = join(paths.images, `${name}-${hash}`);
  mkdirSync(join(dir, 'rootfs/etc'), { recursive: true });
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ name, hash }));
  return dir;
}

describe('the default image (built on this machine by `hearth images build default`)', () => {
  const catalog = loadCatalog();

  it('is built, with meta matching its content key', () => {
    const image = requireImage('default', { catalog });
    expect(image.hash).toBe(imageHash(catalog.images.default!));
    expect(image.dir.endsWith(`default-${image.hash}`)).toBe(true);
    expect(image.meta).toMatchObject({
      name: 'default',
      hash: image.hash,
      suite: 'bookworm',
      builderVersion: BUILDER_VERSION,
    });
    expect(image.meta.sizeBytes).toBeGreaterThan(50e6);
  });

  it('is prepared for sandboxes', () => {
    const { rootfs } = requireImage('default', { catalog });
    for (const dir of ['.hearth', 'work', 'proc', 'dev', 'sys', 'tmp']) {
      expect(readdirSync(join(rootfs, dir)), dir).toEqual([]);
    }
    expect(statSync(join(rootfs, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(statSync(join(rootfs, 'work')).uid).toBe(1000);
    expect(readFileSync(join(rootfs, 'etc/passwd'), 'utf8')).toMatch(
      /^user:x:1000:1000:[^:]*:\/home\/user:/m,
    );
    expect(readFileSync(join(rootfs, 'etc/group'), 'utf8')).toMatch(/^user:x:1000:/m);
    expect(readlinkSync(join(rootfs, 'home/user'))).toBe('/work');
    expect(readFileSync(join(rootfs, 'etc/hosts'), 'utf8')).toMatch(/^127\.0\.0\.1\s+localhost/m);
    expect(existsSync(join(rootfs, 'usr/bin/python3'))).toBe(true);
    expect(readdirSync(join(rootfs, 'usr/share/doc'))).toEqual([]);
    expect(readdirSync(join(rootfs, 'var/lib/apt/lists')).filter((f) => f !== 'partial')).toEqual([]);
  });

  it('is not rebuilt when nothing changed', async () => {
    const before = requireImage('default', { catalog });
    const phases: string[] = [];
    const { image, built } = await buildImage('default', {
      catalog,
      onProgress: (e) => phases.push(e.phase),
    });
    expect(built).toBe(false);
    expect(image.dir).toBe(before.dir);
    expect(image.meta).toEqual(before.meta);
    expect(phases).toEqual(['done']);
    const listed = listImages({ catalog }).find((l) => l.def.name === 'default');
    expect(listed?.built?.dir).toBe(before.dir);
  });

  it('names the build command when an image is not built, and refuses unknown ones', () => {
    const paths = scratchPaths('empty');
    expect(() => requireImage('compiled', { catalog, paths })).toThrowError(
      expect.objectContaining({
        code: 'IMAGE_NOT_BUILT',
        hint: expect.stringContaining('hearth images build compiled'),
      }),
    );
    expect(() => requireImage('nope', { catalog, paths })).toThrowError(
      expect.objectContaining({ code: 'UNKNOWN_IMAGE' }),
    );
  });
});

describe('building', () => {
  it('leaves nothing behind when interrupted, and clears what a killed build left', async () => {
    const paths = scratchPaths('interrupt');
    const hash = imageHash(tinyCatalog.images.tiny!);
    mkdirSync(paths.images, { recursive: true });
    // What a builder killed with SIGKILL leaves: a temp dir named for a pid that no longer runs.
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    const leftover = join(paths.images, `.tmp-tiny-${hash}-${dead.pid}`);
    mkdirSync(join(leftover, 'rootfs/etc'), { recursive: true });

    const abort = new AbortController();
    const seen: string[] = [];
    const build = buildImage('tiny', {
      paths,
      catalog: tinyCatalog,
      signal: abort.signal,
      onProgress: (e) => {
        seen.push(e.phase);
        if (e.phase === 'extract') abort.abort();
      },
    });
    await expect(build).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen).toContain('resolve');
    expect(readdirSync(paths.images).filter((e) => !e.startsWith('.lock'))).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(paths.images);
  }, 180_000);

  it('reports a failed build with its log file', async () => {
    const paths = scratchPaths('fail');
    const catalog = parseCatalog(`
images:
  broken: { description: x, suite: hearth-no-such-suite, packages: [bash] }
languages:
  sh: { image: broken, file: main.sh, run: [bash, main.sh], version: [bash, --version] }
`);
    const err = (await buildImage('broken', { paths, catalog }).catch((e: unknown) => e)) as HearthError;
    expect(err).toBeInstanceOf(HearthError);
    expect(err).toMatchObject({ code: 'IMAGE_BUILD_FAILED' });
    expect(err.message).toContain('hearth-no-such-suite');
    const log = String(err.details?.log);
    expect(err.message).toContain(log);
    expect(readFileSync(log, 'utf8')).toMatch(/^\$ debootstrap .*hearth-no-such-suite/m);
    rmSync(log);
    rmSync(join(paths.cache, 'debs/hearth-no-such-suite'), { recursive: true, force: true });
    expect(readdirSync(paths.images).filter((e) => !e.startsWith('.lock'))).toEqual([]);
  });

  it('waits for a live lock holder and takes over a dead one', async () => {
    const lock = join(scratch, 'test.lock');
    const holder = spawn('sleep', ['60']);
    children.push(holder);
    writeFileSync(lock, String(holder.pid));
    const abort = new AbortController();
    const waited: number[] = [];
    const waiting = acquireLock(lock, {
      signal: abort.signal,
      pollMs: 50,
      onWait: (pid) => waited.push(pid),
    });
    setTimeout(() => abort.abort(), 300);
    await expect(waiting).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(waited).toEqual([holder.pid]);

    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const release = await acquireLock(lock);
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    await release();
    expect(existsSync(lock)).toBe(false);
  });
});

describe('removing', () => {
  it('keeps a version a live process has mounted, and removes it once that process is gone', async () => {
    const paths = scratchPaths('remove');
    const dir = fakeImage(paths, 'tiny', imageHash(tinyCatalog.images.tiny!));
    const stale = fakeImage(paths, 'tiny', '0123456789abcdef');
    expect(listImages({ paths, catalog: tinyCatalog })[0]?.stale).toEqual([stale]);

    const holder = await holdMount(join(dir, 'rootfs'));
    expect(findUsers(dir)).toContain(holder.pid);
    expect(findUsers(stale)).toEqual([]);
    await expect(removeImage('tiny', { paths, catalog: tinyCatalog })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining(`pids ${holder.pid}`),
    });
    expect(existsSync(dir)).toBe(true);
    expect(existsSync(stale)).toBe(false);

    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(await removeImage('tiny', { paths, catalog: tinyCatalog })).toEqual({ removed: [dir] });
    expect(existsSync(dir)).toBe(false);
  });

  it('prunes old versions after a build, except one in use', async () => {
    const paths = scratchPaths('prune');
    const current = fakeImage(paths, 'tiny', imageHash(tinyCatalog.images.tiny!));
    const old = fakeImage(paths, 'tiny', '00000000000000aa');
    const busy = fakeImage(paths, 'tiny', '00000000000000bb');
    const holder = await holdMount(join(busy, 'rootfs'));
    expect(await pruneImage('tiny', { paths, catalog: tinyCatalog })).toEqual({
      removed: [old],
      kept: [busy],
    });
    expect(existsSync(current)).toBe(true);
    expect(listImages({ paths, catalog: tinyCatalog })[0]?.stale).toEqual([busy]);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(await pruneImage('tiny', { paths, catalog: tinyCatalog })).toEqual({ removed: [busy], kept: [] });
  });

  it('refuses an image name the catalog does not know and that has no versions', async () => {
    await expect(
      removeImage('nope', { paths: scratchPaths('none'), catalog: tinyCatalog }),
    ).rejects.toMatchObject({
      code: 'UNKNOWN_IMAGE',
    });
  });
});

describe('tools layer', () => {
  const home = join(scratch, 'tools-home');
  const dist = join(scratch, 'dist');
  const paths = hearthPaths({ HEARTH_HOME: home });
  mkdirSync(dist, { recursive: true });
  const writeDist = (agent: string) => {
    writeFileSync(join(dist, 'agent.js'), agent);
    writeFileSync(join(dist, 'hearth-exec'), '#!/bin/sh\nexec "$@"\n');
    writeFileSync(join(dist, 'repl-python.py'), '# python driver\n');
    writeFileSync(join(dist, 'repl-node.js'), '// node driver\n');
  };

  it('holds node, the shim and the agent, and is reused while they do not change', async () => {
    writeDist('console.log("agent v1")');
    const layer = await ensureTools({ paths, distDir: dist });
    expect(layer.dir).toBe(join(paths.tools, layer.hash));
    expect(layer.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(readFileSync(layer.agent, 'utf8')).toBe('console.log("agent v1")');
    expect(readFileSync(join(layer.dir, 'repl-python.py'), 'utf8')).toBe('# python driver\n');
    expect(readFileSync(join(layer.dir, 'repl-node.js'), 'utf8')).toBe('// node driver\n');
    // Execute-only, so the processes that exec them are non-dumpable; node a copy, not a link, so
    // the host's own binary keeps its mode.
    expect(statSync(layer.shim).mode & 0o777).toBe(0o711);
    expect(statSync(layer.node).mode & 0o777).toBe(0o711);
    expect(statSync(layer.node).ino).not.toBe(statSync(process.execPath).ino);
    expect(statSync(process.execPath).mode & 0o004).toBe(0o004);
    expect(statSync(join(layer.readableBin, 'node')).mode & 0o555).toBe(0o555);
    expect(statSync(join(layer.readableBin, 'hearth-exec')).mode & 0o777).toBe(0o755);
    expect(readFileSync(layer.seccomp)).toEqual(sandboxFilterBytes());
    expect(statSync(layer.node).size).toBe(statSync(process.execPath).size);
    const version = spawn(layer.node, ['--version']);
    const out = await new Promise<string>((resolve) => version.stdout?.on('data', (d) => resolve(String(d))));
    expect(out.trim()).toBe(process.version);
    expect(await ensureTools({ paths, distDir: dist })).toEqual(layer);
    expect(readdirSync(paths.tools)).toEqual([layer.hash]);
  });

  it('makes a new version when the agent changes and keeps only the newest', async () => {
    const hashes = new Set<string>();
    for (let i = 2; i <= TOOLS_KEEP + 2; i++) {
      writeDist(`console.log("agent v${i}")`);
      const layer = await ensureTools({ paths, distDir: dist });
      expect(readFileSync(layer.agent, 'utf8')).toBe(`console.log("agent v${i}")`);
      hashes.add(layer.hash);
    }
    expect(hashes.size).toBe(TOOLS_KEEP + 1);
    const left = readdirSync(paths.tools);
    expect(left).toHaveLength(TOOLS_KEEP);
    expect(left).toContain([...hashes].at(-1));
  });

  it('tells the user to build when dist is missing', async () => {
    await expect(ensureTools({ paths, distDir: join(scratch, 'no-dist') })).rejects.toMatchObject({
      hint: expect.stringContaining('npm run build'),
    });
  });
});
