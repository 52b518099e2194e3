import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { removeOtherErofs } from '../src/images/vm/erofs.js';

describe('older tools erofs versions', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('are removed only when unused for the grace period and not held open by a live process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-erofs-'));
    dirs.push(dir);
    const file = (name: string, ageMs: number): string => {
      const path = join(dir, name);
      writeFileSync(path, 'x');
      const t = (Date.now() - ageMs) / 1000;
      utimesSync(path, t, t);
      return path;
    };
    const day = 24 * 3600_000;
    const keep = file('tools-current.erofs', 3 * day);
    const stale = file('tools-stale.erofs', 2 * day);
    const recent = file('tools-recent.erofs', 60_000);
    const open = file('tools-open.erofs', 2 * day);
    const other = file('rootfs-stale.erofs', 2 * day);
    // A live process holding a file open, as a running VM holds its drive.
    const holder = spawn('sh', ['-c', 'exec 3<"$1"; sleep 30', 'sh', open], { stdio: 'ignore' });
    try {
      await sleep(200);
      removeOtherErofs({ dir, prefix: 'tools-', keep });
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(recent)).toBe(true);
      expect(existsSync(open)).toBe(true);
      expect(existsSync(other)).toBe(true);
      expect(existsSync(keep)).toBe(true);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
