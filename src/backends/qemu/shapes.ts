import { HearthError } from '../../errors/hearth-error.js';
import type { SandboxSpec } from '../backend.js';
import type { VmShape } from './launch.js';

/**
 * VM shapes. A template is booted per shape, so the shapes are few: a spec's memory is rounded up
 * to the next memory shape, and each exec's own memory limit is applied inside the guest (the
 * agent's per-exec cgroup). A spec larger than the largest shape gets the largest.
 */

/** Memory shapes when `HEARTH_QEMU_MEMORY_MB` is unset. */
export const DEFAULT_MEMORY_SHAPES_MB: readonly number[] = [256, 512, 1024];

/** Defaults for what a spec leaves out; they match SandboxSpec's documented defaults. */
export const SHAPE_DEFAULTS: VmShape = { vcpus: 1, memoryMb: 512, diskMb: 256 };

const MIN_VM_MB = 128;
const MAX_VM_MB = 65_536;

/** Parses a comma-separated list of memory shapes in MiB (`HEARTH_QEMU_MEMORY_MB`), sorted. */
export function parseMemoryShapes(text: string | undefined): number[] {
  if (text === undefined || text.trim() === '') return [...DEFAULT_MEMORY_SHAPES_MB];
  const shapes = text.split(',').map((s) => Number(s.trim()));
  if (shapes.some((n) => !Number.isInteger(n) || n < MIN_VM_MB || n > MAX_VM_MB)) {
    throw new HearthError(
      'VALIDATION_FAILED',
      `HEARTH_QEMU_MEMORY_MB must list integers from ${MIN_VM_MB} to ${MAX_VM_MB} (MiB), got "${text}"`,
      { hint: 'Set HEARTH_QEMU_MEMORY_MB to e.g. 256,512,1024, or unset it.' },
    );
  }
  return [...new Set(shapes)].sort((a, b) => a - b);
}

/** The smallest shape that holds `memoryMb`, or the largest shape. */
export function roundMemory(memoryMb: number, shapesMb: readonly number[]): number {
  const largest = shapesMb.at(-1) ?? SHAPE_DEFAULTS.memoryMb;
  return shapesMb.find((s) => s >= memoryMb) ?? largest;
}

/** The VM shape a spec runs in; negative or fractional numbers are a VALIDATION_FAILED error. */
export function shapeFor(spec: SandboxSpec, shapesMb: readonly number[]): VmShape {
  // 0 or unset take the defaults, as on every backend.
  const orDefault = (v: number | undefined, d: number): number => (v === undefined || v === 0 ? d : v);
  const vcpus = orDefault(spec.vcpus, SHAPE_DEFAULTS.vcpus);
  const memoryMb = orDefault(spec.memoryMb, SHAPE_DEFAULTS.memoryMb);
  const diskMb = orDefault(spec.diskMb, SHAPE_DEFAULTS.diskMb);
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 16) {
    throw new HearthError('VALIDATION_FAILED', `vcpus must be an integer from 1 to 16, got ${spec.vcpus}`);
  }
  if (!Number.isInteger(memoryMb) || memoryMb < 1 || memoryMb > MAX_VM_MB) {
    throw new HearthError(
      'VALIDATION_FAILED',
      `memoryMb must be an integer from 1 to ${MAX_VM_MB} for a VM, got ${spec.memoryMb}`,
    );
  }
  if (!Number.isInteger(diskMb) || diskMb < 1 || diskMb > MAX_VM_MB) {
    throw new HearthError(
      'VALIDATION_FAILED',
      `diskMb must be an integer from 1 to ${MAX_VM_MB} for a VM, got ${spec.diskMb}`,
    );
  }
  return { vcpus, memoryMb: roundMemory(memoryMb, shapesMb), diskMb };
}
