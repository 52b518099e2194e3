/**
 * Snapshot hooks: flush before a VM snapshot, and make a restored clone its own machine again
 * (sandbox id, wall clock, fresh kernel entropy).
 */
import { spawnSync } from 'node:child_process';
import { GuestError } from './guest-error.js';

/** Clocks closer than this to the host's are left alone. */
const CLOCK_TOLERANCE_MS = 1000;

export function prepareSnapshot(shim: string | undefined): null {
  const r = shim
    ? spawnSync(shim, ['--sync'], { stdio: 'ignore' })
    : spawnSync('sync', [], { stdio: 'ignore' });
  if (r.error) throw new GuestError('INTERNAL', `sync failed: ${r.error.message}`);
  return null;
}

export interface RestoreFacts {
  nowMs: number;
  entropyHex: string;
}

/** Sets the clock (root only, when it is off) and reseeds the kernel RNG. Returns warnings. */
export function afterRestore(shim: string | undefined, facts: RestoreFacts): string[] {
  const warnings: string[] = [];
  if (!Number.isFinite(facts.nowMs) || facts.nowMs <= 0)
    throw new GuestError('BAD_REQUEST', 'nowMs must be > 0');
  if (!/^([0-9a-f]{2}){1,512}$/i.test(facts.entropyHex))
    throw new GuestError('BAD_REQUEST', 'entropy must be 1..512 bytes');
  if (!shim) return ['no exec shim: clock and entropy left as they are'];
  const isRoot = process.getuid?.() === 0;
  if (isRoot && Math.abs(Date.now() - facts.nowMs) > CLOCK_TOLERANCE_MS) {
    const r = spawnSync(shim, ['--set-time', String(Math.round(facts.nowMs))], { encoding: 'utf8' });
    if (r.status !== 0) warnings.push(`set-time: ${r.stderr || r.error?.message}`.trim());
  }
  const r = spawnSync(shim, ['--reseed', facts.entropyHex], { encoding: 'utf8' });
  if (r.status !== 0) warnings.push(`reseed: ${r.stderr || r.error?.message}`.trim());
  return warnings;
}
