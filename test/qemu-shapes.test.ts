/** VM shapes, file-backed guest memory arguments and template warm-up commands (no VM needed). */
import { describe, expect, test } from 'vitest';
import { qemuArgs } from '../src/backends/qemu/qemu-args.js';
import { parseMemoryShapes, roundMemory, shapeFor } from '../src/backends/qemu/shapes.js';
import { warmCommands } from '../src/backends/qemu/warm-up.js';
import { HearthError } from '../src/errors/hearth-error.js';
import { loadCatalog } from '../src/images/catalog.js';

describe('memory shapes', () => {
  test('HEARTH_QEMU_MEMORY_MB parses, dedupes and sorts; unset gives the defaults', () => {
    expect(parseMemoryShapes(undefined)).toEqual([256, 512, 1024]);
    expect(parseMemoryShapes(' 512, 256,512 ')).toEqual([256, 512]);
  });
  test('a bad list is a VALIDATION_FAILED error naming the variable', () => {
    for (const bad of ['abc', '256,x', '64', '256,100000', '1.5']) {
      let err: unknown;
      try {
        parseMemoryShapes(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HearthError);
      expect((err as HearthError).code).toBe('VALIDATION_FAILED');
      expect((err as HearthError).message).toContain('HEARTH_QEMU_MEMORY_MB');
    }
  });
  test('a spec rounds up to the next shape; past the largest it gets the largest', () => {
    const shapes = [256, 512];
    expect(roundMemory(1, shapes)).toBe(256);
    expect(roundMemory(256, shapes)).toBe(256);
    expect(roundMemory(257, shapes)).toBe(512);
    expect(roundMemory(2048, shapes)).toBe(512);
    expect(shapeFor({ image: 'default', memoryMb: 300 }, shapes)).toEqual({
      vcpus: 1,
      memoryMb: 512,
      diskMb: 256,
    });
    expect(shapeFor({ image: 'default' }, shapes).memoryMb).toBe(512);
    expect(shapeFor({ image: 'default', memoryMb: 0, vcpus: 0, diskMb: 0 }, shapes)).toEqual({
      vcpus: 1,
      memoryMb: 512,
      diskMb: 256,
    });
  });
  test('bad spec numbers are VALIDATION_FAILED', () => {
    for (const spec of [
      { vcpus: -1 },
      { vcpus: 1.5 },
      { memoryMb: 100_000 },
      { memoryMb: Number.NaN },
      { diskMb: -1 },
    ]) {
      expect(() => shapeFor({ image: 'default', ...spec }, [256])).toThrow(HearthError);
    }
  });
});

describe('file-backed guest memory', () => {
  const base = { accel: 'tcg' as const, vcpus: 1, memoryMb: 256, kernel: '/k', initrd: '/i' };
  test('a template VM writes through to the file; a clone maps it privately', () => {
    const tpl = qemuArgs({ ...base, memoryFile: { path: '/t/a,b.mem', shared: true } }).join(' ');
    expect(tpl).toContain('microvm,x-option-roms=off,isa-serial=on,rtc=on,memory-backend=mem');
    expect(tpl).toContain('memory-backend-file,id=mem,size=256M,mem-path=/t/a,,b.mem,share=on');
    const clone = qemuArgs({ ...base, memoryFile: { path: '/t/x.mem', shared: false } }).join(' ');
    expect(clone).toContain('mem-path=/t/x.mem,share=off');
    expect(qemuArgs(base).join(' ')).not.toContain('memory-backend');
  });
});

describe('template warm-up', () => {
  test('the default image warms each interpreter once with a no-op', () => {
    const cmds = warmCommands('default', loadCatalog());
    expect(cmds).toContainEqual(['python3', '-c', 'pass']);
    expect(cmds).toContainEqual(['node', '-e', '0']);
    expect(cmds).toContainEqual(['bash', '-c', 'true']);
    expect(cmds.filter((c) => c[0] === 'node')).toHaveLength(1);
  });
  test('compiled languages warm their compilers through the version probe', () => {
    const cmds = warmCommands('compiled', loadCatalog());
    expect(cmds).toContainEqual(['gcc', '-dumpfullversion']);
    expect(cmds).not.toContainEqual(['./main']);
  });
});
