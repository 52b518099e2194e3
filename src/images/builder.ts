import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { mkdir, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type HearthPaths, hearthPaths } from '../config/paths.js';
import { HearthError } from '../errors/hearth-error.js';
import { acquireLock } from './build-lock.js';
import { type Catalog, loadCatalog, resolveImageDef } from './catalog.js';
import { type BuildProgress, debianMirror, debootstrapVersion, runDebootstrap } from './debootstrap.js';
import { findUsers, pidAlive } from './in-use.js';
import { prepareRootfs, treeSizeBytes } from './prepare-rootfs.js';
import { removeTree } from './remove-tree.js';
import {
  BUILDER_VERSION,
  type BuiltImage,
  canonicalPackages,
  findImage,
  type ImageMeta,
  imageHash,
  pruneImage,
} from './store.js';

export type { BuildProgress } from './debootstrap.js';

export interface BuildImageOptions {
  /** @default hearthPaths() */
  paths?: HearthPaths;
  /** @default loadCatalog() */
  catalog?: Catalog;
  /** Build even if this version is already built (the old copy is replaced). @default false */
  force?: boolean;
  onProgress?: (e: BuildProgress) => void;
  /** Aborting stops debootstrap and removes the partial build. */
  signal?: AbortSignal;
}

export interface BuildResult {
  image: BuiltImage;
  /** False when the image was already built with the same inputs. */
  built: boolean;
}

function closeLog(log: WriteStream): Promise<void> {
  return new Promise((resolve) => log.end(resolve));
}

/** Removes what interrupted builds of `name` left: temp dirs of dead builders, replaced copies no one uses. */
async function removeLeftovers(paths: HearthPaths, name: string): Promise<void> {
  const prefix = new RegExp(`^\\.(tmp|old)-${name.replace(/-/g, '\\-')}-[0-9a-f]{16}-(\\d+)$`);
  for (const entry of await readdir(paths.images)) {
    const m = prefix.exec(entry);
    if (!m) continue;
    const dir = join(paths.images, entry);
    if (m[1] === 'tmp' ? !pidAlive(Number(m[2])) : findUsers(dir).length === 0) await removeTree(dir);
  }
}

/**
 * Builds a catalog image with debootstrap unless the same version is already built. Builds in a
 * temp dir and renames it into place, so a failed or interrupted build leaves no image behind; one
 * builder per image at a time (a second waits for the first and then finds its result).
 */
export async function buildImage(name: string, opts: BuildImageOptions = {}): Promise<BuildResult> {
  // One build per image directory in this process (the lock file only tells processes apart).
  const key = join((opts.paths ?? hearthPaths()).images, name);
  const running = inflight.get(key);
  if (running) {
    opts.onProgress?.({ phase: 'resolve', message: `waiting for the build of ${name} already running here` });
  }
  const build = (running ?? Promise.resolve()).catch(() => undefined).then(() => buildOnce(name, opts));
  inflight.set(key, build);
  try {
    return await build;
  } finally {
    if (inflight.get(key) === build) inflight.delete(key);
  }
}

const inflight = new Map<string, Promise<BuildResult>>();

async function buildOnce(name: string, opts: BuildImageOptions): Promise<BuildResult> {
  const catalog = opts.catalog ?? loadCatalog();
  const def = resolveImageDef(catalog, name);
  const paths = opts.paths ?? hearthPaths();
  const emit = (e: BuildProgress) => opts.onProgress?.(e);
  const existing = opts.force ? undefined : findImage(name, { paths, catalog });
  if (existing) {
    emit({ phase: 'done', percent: 100, message: `${name} is up to date (${existing.hash})` });
    return { image: existing, built: false };
  }

  await mkdir(paths.images, { recursive: true });
  const release = await acquireLock(join(paths.images, `.lock-${name}`), {
    signal: opts.signal,
    onWait: (pid) =>
      emit({ phase: 'resolve', message: `waiting for process ${pid}, which is building ${name}` }),
  });
  try {
    const built = opts.force ? undefined : findImage(name, { paths, catalog });
    if (built) {
      emit({ phase: 'done', percent: 100, message: `${name} is up to date (${built.hash})` });
      return { image: built, built: false };
    }
    await removeLeftovers(paths, name);
    const hash = imageHash(def);
    const finalDir = join(paths.images, `${name}-${hash}`);
    const tmp = join(paths.images, `.tmp-${name}-${hash}-${process.pid}`);
    const logDir = join(paths.cache, 'logs');
    await mkdir(logDir, { recursive: true });
    const logPath = join(
      logDir,
      `build-${name}-${hash}-${new Date().toISOString().replace(/[:.]/g, '-')}.log`,
    );
    const log = createWriteStream(logPath);
    const started = performance.now();
    const packages = canonicalPackages(def.packages);
    try {
      await mkdir(tmp);
      emit({ phase: 'resolve', percent: 0, message: `debootstrap ${def.suite} + ${packages.join(' ')}` });
      const cacheDir = join(paths.cache, 'debs', def.suite);
      await mkdir(cacheDir, { recursive: true });
      const rootfs = join(tmp, 'rootfs');
      await runDebootstrap({
        suite: def.suite,
        target: rootfs,
        packages,
        cacheDir,
        mirror: debianMirror(),
        log,
        onProgress: emit,
        signal: opts.signal,
      });
      emit({ phase: 'finalize', percent: 0, message: 'preparing the rootfs for sandboxes' });
      await prepareRootfs(rootfs);
      const meta: ImageMeta = {
        name,
        hash,
        suite: def.suite,
        packages,
        builderVersion: BUILDER_VERSION,
        builtAt: new Date().toISOString(),
        buildMs: Math.round(performance.now() - started),
        sizeBytes: await treeSizeBytes(rootfs),
        debootstrapVersion: debootstrapVersion(),
      };
      await writeFile(join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
      opts.signal?.throwIfAborted();
      if (existsSync(finalDir))
        await rename(finalDir, join(paths.images, `.old-${name}-${hash}-${process.pid}`));
      await rename(tmp, finalDir);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.write(`build failed: ${message}\n`);
      await closeLog(log);
      await removeTree(tmp);
      if (opts.signal?.aborted) {
        await unlink(logPath).catch(() => undefined);
        throw new HearthError('CANCELLED', `building image "${name}" was cancelled`, {
          hint: `Run \`hearth images build ${name}\` again to build it.`,
        });
      }
      throw new HearthError(
        'IMAGE_BUILD_FAILED',
        `building image "${name}" failed: ${message} (log: ${logPath})`,
        {
          cause: err,
          details: { log: logPath },
        },
      );
    }
    await closeLog(log);
    await unlink(logPath).catch(() => undefined);
    emit({ phase: 'finalize', percent: 100, message: 'removing old versions' });
    await removeLeftovers(paths, name);
    await pruneImage(name, { paths, catalog });
    const image = findImage(name, { paths, catalog });
    if (!image) throw new HearthError('IMAGE_BUILD_FAILED', `image "${name}" vanished right after its build`);
    emit({ phase: 'done', percent: 100, message: `${name} built (${image.hash})` });
    return { image, built: true };
  } finally {
    await release();
  }
}
