import { execFile } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HearthError } from '../../errors/hearth-error.js';
import { isRunning } from '../../host/sandbox-id.js';
import { coldBoot, type LaunchContext, setIgnoreShared, type VmShape } from './launch.js';
import { migrateToFile } from './migration-sink.js';
import { chooseQemuUser, grant } from './qemu-user.js';
import { warmUp } from './warm-up.js';

/**
 * VM templates: a guest booted once per (image, artefacts, accelerator, shape), warmed (its
 * interpreters run once, so their files sit in the guest's page cache), stopped, and saved with
 * QMP `migrate`. New sandboxes restore from it instead of booting. Every restore starts identical;
 * `after-restore` then gives each its own id, clock and entropy.
 *
 * Two layouts:
 * - shared (default): guest RAM lives in `<name>.cow.mem` (the template VM maps it `share=on`), and
 *   the migration, with `x-ignore-shared`, holds only device state (`<name>.cow.state`). Clones map
 *   the RAM file `share=off`: pages they only read stay shared in the host's page cache, pages
 *   they write are copied.
 * - stream (fallback): everything in `<name>.state`; each clone copies every saved page.
 */
export interface Template {
  stateFile: string;
  /** The RAM file clones map copy-on-write; absent for a stream template. */
  memoryFile?: string;
  /** Size of the state file. */
  sizeBytes: number;
  /** Disk blocks the RAM file holds (the pages the template touched). */
  memoryBytes?: number;
  /** How long the cold boot to a ready agent took (0 when the template already existed). */
  bootMs: number;
  /** How long warming the guest took. */
  warmMs: number;
  /** How long saving the state took. */
  saveMs: number;
}

export interface TemplateOptions {
  /** Commands run once in the template VM before it is saved (errors are ignored). */
  warm?: string[][];
}

const MIGRATE_TIMEOUT_MS = 120_000;
const run = promisify(execFile);
const building = new Map<string, Promise<Template>>();
/** Set once the shared layout failed in this process: later templates use the stream layout. */
let sharedBroken = false;

/** The template's base name: everything that must match for a restore to be valid. */
export function templateName(ctx: LaunchContext, image: string, shape: VmShape): string {
  const accel = ctx.accel.accel + (ctx.accel.cpu ? `-${ctx.accel.cpu.replace(/[^a-z0-9]+/gi, '')}` : '');
  return `${image}-${ctx.artefacts.key}-${accel}-${shape.vcpus}c-${shape.memoryMb}m-${shape.diskMb}d`;
}

function existing(stateFile: string, memoryFile?: string): Template | undefined {
  if (!existsSync(stateFile) || (memoryFile && !existsSync(memoryFile))) return undefined;
  return {
    stateFile,
    sizeBytes: statSync(stateFile).size,
    ...(memoryFile ? { memoryFile, memoryBytes: statSync(memoryFile).blocks * 512 } : {}),
    bootMs: 0,
    warmMs: 0,
    saveMs: 0,
  };
}

/** The template for `image` in `shape`, built (once, shared by concurrent callers) when missing. */
export function ensureTemplate(
  ctx: LaunchContext,
  image: string,
  shape: VmShape,
  opts: TemplateOptions = {},
): Promise<Template> {
  const base = join(ctx.paths.templates, templateName(ctx, image, shape));
  const shared = ctx.sharedMemory !== false && !sharedBroken;
  const found = shared ? existing(`${base}.cow.state`, `${base}.cow.mem`) : existing(`${base}.state`);
  if (found) return Promise.resolve(found);
  let p = building.get(base);
  if (!p) {
    p = build(ctx, image, shape, base, shared, opts).finally(() => building.delete(base));
    building.set(base, p);
  }
  return p;
}

async function build(
  ctx: LaunchContext,
  image: string,
  shape: VmShape,
  base: string,
  shared: boolean,
  opts: TemplateOptions,
): Promise<Template> {
  if (!shared) return existing(`${base}.state`) ?? buildTemplate(ctx, image, shape, base, false, opts);
  try {
    return await buildTemplate(ctx, image, shape, base, true, opts);
  } catch (err) {
    if (err instanceof HearthError && err.code === 'CANCELLED') throw err;
    sharedBroken = true;
    process.emitWarning(
      `qemu: a template with file-backed shared memory failed (${(err as Error).message.split('\n')[0]}); using stream templates`,
    );
    return existing(`${base}.state`) ?? buildTemplate(ctx, image, shape, base, false, opts);
  }
}

async function buildTemplate(
  ctx: LaunchContext,
  image: string,
  shape: VmShape,
  base: string,
  shared: boolean,
  opts: TemplateOptions,
): Promise<Template> {
  mkdirSync(ctx.paths.templates, { recursive: true });
  removeOrphanedTemporaries(ctx.paths.templates);
  const stateFile = shared ? `${base}.cow.state` : `${base}.state`;
  const memoryFile = shared ? `${base}.cow.mem` : undefined;
  const suffix = `.tmp-${process.pid}`;
  const tmpState = stateFile + suffix;
  const tmpMem = memoryFile ? memoryFile + suffix : undefined;
  if (tmpMem) {
    // A fresh, empty file that QEMU sizes; QEMU's user must own it, and clones open it read-write.
    rmSync(tmpMem, { force: true });
    closeSync(openSync(tmpMem, 'wx', 0o600));
    grant(tmpMem, chooseQemuUser({ read: [], write: [], dirs: [tmpMem], kvm: false }));
  }
  const started = performance.now();
  const { vm, agent } = await coldBoot(ctx, shape, {
    labels: { template: image },
    ...(tmpMem ? { memoryFile: tmpMem } : {}),
  });
  try {
    const bootMs = performance.now() - started;
    const warmMs = await warmUp(agent, opts.warm ?? []);
    await agent.prepareSnapshot();
    // Let the guest see the host leave before it is frozen, so a restored agent starts from a
    // clean stream instead of a half-read frame.
    await agent.close();
    await new Promise((r) => setTimeout(r, 100));
    const saveStarted = performance.now();
    await vm.qmp.execute('stop');
    if (shared) await setIgnoreShared(vm);
    await migrateToFile(vm, tmpState, { timeoutMs: MIGRATE_TIMEOUT_MS, what: 'saving the template' });
    // QEMU must be gone before the RAM file is published: nothing may write to it afterwards.
    await vm.destroy();
    if (tmpMem && memoryFile) {
      // Pages the guest zeroed need no disk blocks (best effort: ≈20% of a fresh guest's file).
      await run('fallocate', ['--dig-holes', tmpMem], { timeout: 30_000 }).catch(() => {});
      renameSync(tmpMem, memoryFile);
    }
    renameSync(tmpState, stateFile);
    const saveMs = performance.now() - saveStarted;
    removeStaleTemplates(ctx, image, base, shared);
    const t = existing(stateFile, memoryFile);
    if (!t) throw new HearthError('INTERNAL', `template ${stateFile} vanished after it was saved`);
    return { ...t, bootMs, warmMs, saveMs };
  } catch (err) {
    throw err instanceof HearthError
      ? err
      : vm.failure(`building the template failed: ${(err as Error).message}`);
  } finally {
    await vm.destroy();
    rmSync(tmpState, { force: true });
    if (tmpMem) rmSync(tmpMem, { force: true });
  }
}

/**
 * Files of `image` templates made from other artefacts (an older kernel, image or tools layer),
 * and this template's stream layout once its shared one exists. Clones that still map a removed RAM file keep its pages.
 */
function removeStaleTemplates(ctx: LaunchContext, image: string, base: string, shared: boolean): void {
  const dir = ctx.paths.templates;
  const mine = base.slice(dir.length + 1);
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(`${image}-`) || f.includes('.tmp-')) continue;
    const stale = !f.includes(`-${ctx.artefacts.key}-`);
    const otherLayout = shared && f === `${mine}.state`;
    if (stale || otherLayout) rmSync(join(dir, f), { force: true });
  }
}

/** Half-written template files of builds whose process died (a crash between boot and rename). */
function removeOrphanedTemporaries(dir: string): void {
  for (const f of readdirSync(dir)) {
    const pid = Number(/\.tmp-(\d+)$/.exec(f)?.[1]);
    if (pid && pid !== process.pid && !isRunning(pid)) rmSync(join(dir, f), { force: true });
  }
}
