/** Host cgroups for sandboxes, on this host's real hierarchy (v1 here, v2 on modern hosts). */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { detectCgroups, SandboxCgroup } from '../src/host/cgroups.js';
import { newSandboxId } from '../src/host/sandbox-id.js';

const support = detectCgroups();

describe.skipIf(support.mode === 'none')(`SandboxCgroup (${support.reason})`, () => {
  test('limits are written, a process joins, OOM and peak are read back, remove() frees it all', async () => {
    const cg = await SandboxCgroup.create(newSandboxId('test'), { memoryMb: 64, maxProcesses: 32 });
    if (!cg) throw new Error('cgroups detected but not created');
    try {
      const memFile = cg.mode === 'v2' ? 'memory.max' : 'memory.limit_in_bytes';
      const memDir = cg.dirs.find((d) => existsSync(join(d, memFile))) ?? '';
      expect(readFileSync(join(memDir, memFile), 'utf8').trim()).toBe(String(64 * 1024 * 1024));
      const pidsDir = cg.dirs.find((d) => existsSync(join(d, 'pids.max'))) ?? '';
      expect(readFileSync(join(pidsDir, 'pids.max'), 'utf8').trim()).toBe('32');
      // A real allocation past the limit, in the group from its first instruction (via the shell's own pid).
      const script = `for d in ${cg.dirs.join(' ')}; do echo $$ > $d/cgroup.procs; done; exec python3 -c "x = bytearray(256 * 1024 * 1024)"`;
      const child = spawn('sh', ['-c', script], { stdio: 'ignore' });
      const signal = await new Promise<string | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
      expect(signal).toBe('SIGKILL');
      expect(cg.oomKills()).toBeGreaterThan(0);
      expect(cg.peakMemoryKb()).toBeGreaterThan(32 * 1024);
      expect(cg.pids()).toEqual([]);
    } finally {
      await cg.remove();
      await cg.remove();
    }
    for (const d of cg.dirs) expect(existsSync(d)).toBe(false);
  });

  test('remove() kills what is still inside', async () => {
    const cg = await SandboxCgroup.create(newSandboxId('test'), { memoryMb: 64, maxProcesses: 8 });
    if (!cg) throw new Error('cgroups detected but not created');
    const script = `for d in ${cg.dirs.join(' ')}; do echo $$ > $d/cgroup.procs; done; exec sleep 4949`;
    const child = spawn('sh', ['-c', script], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    for (let i = 0; i < 100 && cg.pids().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(cg.pids()).toContain(child.pid);
    await cg.remove();
    await exited;
    for (const d of cg.dirs) expect(existsSync(d)).toBe(false);
  });
});
