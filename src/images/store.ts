import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type HearthPaths, hearthPaths } from '../config/paths.js';
import { HearthError } from '../errors/hearth-error.js';
import { type Catalog, type ImageDef, loadCatalog, resolveImageDef } from './catalog.js';
import { findUsers } from './in-use.js';
import { removeTree } from './remove-tree.js';

/**
 * Part of every image's content key: bump it when the builder changes what it puts in a rootfs,
 * so every image is rebuilt once.
 */
// 2: uid 1000 is `user` with home /home/user, a symlink to /work.
export const BUILDER_VERSION = '2';

/** What was built, recorded in `meta.json` beside the rootfs. */
export interface ImageMeta {
  name: string;
  hash: string;
  suite: string;
  packages: string[];
  builderVersion: string;
  /** ISO time the build finished. */
  builtAt: string;
  buildMs: number;
  /** Apparent size of the rootfs (files' bytes, hard links once). */
  sizeBytes: number;
  debootstrapVersion: string;
}

export interface BuiltImage {
  name: string;
  hash: string;
  /** `<paths.images>/<name>-<hash>` */
  dir: string;
  /** `<dir>/rootfs`: mount it read-only. */
  rootfs: string;
  meta: ImageMeta;
}

export interface StoreOptions {
  /** @default hearthPaths() */
  paths?: HearthPaths;
  /** @default loadCatalog() */
  catalog?: Catalog;
}

/** The packages as the content key sees them: order and repeats do not matter. */
export function canonicalPackages(packages: readonly string[]): string[] {
  return [...new Set(packages.map((p) => p.trim()))].sort();
}

/** 16 hex chars of sha256 over the image's content-relevant fields and BUILDER_VERSION. */
export function imageHash(def: ImageDef): string {
  const canonical = JSON.stringify({
    builder: BUILDER_VERSION,
    name: def.name,
    suite: def.suite,
    packages: canonicalPackages(def.packages),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** The directory a def builds into. */
export function imageDir(paths: HearthPaths, def: ImageDef): string {
  return join(paths.images, `${def.name}-${imageHash(def)}`);
}

function readBuilt(dir: string, name: string, hash: string): BuiltImage | undefined {
  const rootfs = join(dir, 'rootfs');
  try {
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as ImageMeta;
    if (meta.hash !== hash || !statSync(rootfs).isDirectory()) return undefined;
    return { name, hash, dir, rootfs, meta };
  } catch {
    return undefined;
  }
}

/** The built image for the catalog's current definition of `name`, or undefined (unknown or not built). */
export function findImage(name: string, opts: StoreOptions = {}): BuiltImage | undefined {
  const catalog = opts.catalog ?? loadCatalog();
  const def = catalog.images[name];
  if (!def) return undefined;
  const paths = opts.paths ?? hearthPaths();
  const hash = imageHash(def);
  return readBuilt(join(paths.images, `${name}-${hash}`), name, hash);
}

/** Like findImage, but throws UNKNOWN_IMAGE or IMAGE_NOT_BUILT (whose hint names the command). */
export function requireImage(name: string, opts: StoreOptions = {}): BuiltImage {
  const catalog = opts.catalog ?? loadCatalog();
  resolveImageDef(catalog, name);
  const built = findImage(name, { ...opts, catalog });
  if (built) return built;
  throw new HearthError('IMAGE_NOT_BUILT', `image "${name}" is not built`, {
    hint: `Build it with \`hearth images build ${name}\`.`,
  });
}

/** Every `<name>-<hash>` directory of one image, whatever its hash. */
export function versionDirs(paths: HearthPaths, name: string): string[] {
  if (!existsSync(paths.images)) return [];
  const pattern = new RegExp(`^${name.replace(/[^a-z0-9]/g, '\\$&')}-[0-9a-f]{16}$`);
  return readdirSync(paths.images)
    .filter((entry) => pattern.test(entry))
    .map((entry) => join(paths.images, entry));
}

export interface ImageListing {
  def: ImageDef;
  built?: BuiltImage;
  /** Directories of older versions still on disk (kept because in use, or left by a failed cleanup). */
  stale: string[];
}

/** Every catalog image with its built version (if any) and older versions still on disk. */
export function listImages(opts: StoreOptions = {}): ImageListing[] {
  const catalog = opts.catalog ?? loadCatalog();
  const paths = opts.paths ?? hearthPaths();
  return Object.values(catalog.images).map((def) => {
    const built = findImage(def.name, { paths, catalog });
    const current = imageDir(paths, def);
    const stale = versionDirs(paths, def.name).filter((dir) => dir !== current);
    return built ? { def, built, stale } : { def, stale };
  });
}

/**
 * Removes every version of an image (current and stale). A version a live process uses (a mount
 * or a root inside it) is kept, and the call throws BAD_REQUEST naming the processes once the others are gone.
 */
export async function removeImage(name: string, opts: StoreOptions = {}): Promise<{ removed: string[] }> {
  const catalog = opts.catalog ?? loadCatalog();
  const paths = opts.paths ?? hearthPaths();
  const dirs = versionDirs(paths, name);
  if (!catalog.images[name] && dirs.length === 0) resolveImageDef(catalog, name);
  const removed: string[] = [];
  const busy: string[] = [];
  for (const dir of dirs) {
    const users = findUsers(dir);
    if (users.length > 0) {
      busy.push(`${dir} (pids ${users.join(', ')})`);
      continue;
    }
    await removeTree(dir);
    removed.push(dir);
  }
  if (busy.length > 0) {
    throw new HearthError('BAD_REQUEST', `image "${name}" is in use and was kept: ${busy.join('; ')}`, {
      hint: 'Destroy the sandboxes that use it (or stop `hearth serve`), then remove it again.',
      details: { removed },
    });
  }
  return { removed };
}

/**
 * Removes the versions of an image other than the catalog's current one, except those a live
 * process uses (they stay listed as `stale` until a later prune). Runs after every successful build.
 */
export async function pruneImage(
  name: string,
  opts: StoreOptions = {},
): Promise<{ removed: string[]; kept: string[] }> {
  const catalog = opts.catalog ?? loadCatalog();
  const paths = opts.paths ?? hearthPaths();
  const def = resolveImageDef(catalog, name);
  const current = imageDir(paths, def);
  const removed: string[] = [];
  const kept: string[] = [];
  for (const dir of versionDirs(paths, name)) {
    if (dir === current) continue;
    if (findUsers(dir).length > 0) {
      kept.push(dir);
      continue;
    }
    await removeTree(dir);
    removed.push(dir);
  }
  return { removed, kept };
}
