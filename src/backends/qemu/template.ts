import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HearthError } from '../../errors/hearth-error.js';
import { coldBoot, type LaunchContext, shellQuote, type VmShape } from './launch.js';

/**
 * VM templates: a guest booted once per (image, artefacts, accelerator, shape), stopped as soon as
 * its agent answered, and saved with QMP `migrate` to a state file. New sandboxes restore from it
 * instead of booting. The file holds the guest's memory, its tmpfs overlay included, so every
 * restore starts identical; `after-restore` then gives each its own id, clock and entropy.
 */
export interface Template {
  stateFile: string;
  sizeBytes: number;
  /** How long the cold boot to a ready agent took (0 when the template already existed). */
  bootMs: number;
  /** How long saving the state took. */
  saveMs: number;
}

const MIGRATE_TIMEOUT_MS = 120_000;
const building = new Map<string, Promise<Template>>();

/** The state file's name: everything that must match for a restore to be valid. */
export function templateName(ctx: LaunchContext, image: string, shape: VmShape): string {
  const accel = ctx.accel.accel + (ctx.accel.cpu ? `-${ctx.accel.cpu.replace(/[^a-z0-9]+/gi, '')}` : '');
  return `${image}-${ctx.artefacts.key}-${accel}-${shape.vcpus}c-${shape.memoryMb}m-${shape.diskMb}d.state`;
}

/** The template for `image` in `shape`, built (once, shared by concurrent callers) when missing. */
export function ensureTemplate(ctx: LaunchContext, image: string, shape: VmShape): Promise<Template> {
  const dir = join(ctx.paths.vm, 'templates');
  const stateFile = join(dir, templateName(ctx, image, shape));
  if (existsSync(stateFile))
    return Promise.resolve({ stateFile, sizeBytes: statSync(stateFile).size, bootMs: 0, saveMs: 0 });
  let p = building.get(stateFile);
  if (!p) {
    p = buildTemplate(ctx, image, shape, stateFile).finally(() => building.delete(stateFile));
    building.set(stateFile, p);
  }
  return p;
}

async function buildTemplate(
  ctx: LaunchContext,
  image: string,
  shape: VmShape,
  stateFile: string,
): Promise<Template> {
  mkdirSync(join(ctx.paths.vm, 'templates'), { recursive: true });
  const tmp = `${stateFile}.tmp-${process.pid}`;
  const started = performance.now();
  const { vm, agent } = await coldBoot(ctx, shape, { labels: { template: image } });
  try {
    const bootMs = performance.now() - started;
    await agent.prepareSnapshot();
    // Let the guest see the host leave before it is frozen, so a restored agent starts from a
    // clean stream instead of a half-read frame.
    await agent.close();
    await new Promise((r) => setTimeout(r, 100));
    const saveStarted = performance.now();
    await vm.qmp.execute('stop');
    await vm.qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(tmp)}` });
    const deadline = Date.now() + MIGRATE_TIMEOUT_MS;
    for (;;) {
      const info = await vm.qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (info.status === 'completed') break;
      if (info.status === 'failed' || info.status === 'cancelled') {
        throw vm.failure(`saving the template failed: ${info['error-desc'] ?? info.status}`);
      }
      if (Date.now() > deadline) throw vm.failure('saving the template took too long');
      await new Promise((r) => setTimeout(r, 10));
    }
    renameSync(tmp, stateFile);
    const saveMs = performance.now() - saveStarted;
    removeStaleTemplates(ctx, image, stateFile);
    return { stateFile, sizeBytes: statSync(stateFile).size, bootMs, saveMs };
  } catch (err) {
    throw err instanceof HearthError
      ? err
      : vm.failure(`building the template failed: ${(err as Error).message}`);
  } finally {
    await vm.destroy();
    rmSync(tmp, { force: true });
  }
}

/** Templates of `image` made from other artefacts (an older kernel, image or tools layer). */
function removeStaleTemplates(ctx: LaunchContext, image: string, keep: string): void {
  const dir = join(ctx.paths.vm, 'templates');
  for (const f of readdirSync(dir)) {
    if (f.startsWith(`${image}-`) && !f.includes(`-${ctx.artefacts.key}-`) && join(dir, f) !== keep) {
      rmSync(join(dir, f), { force: true });
    }
  }
}
