import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../src/agent/client.js';
import { sandboxFilterBytes } from '../src/host/seccomp.js';
import { agentBundle, alive, stopAll, stopChild } from './agent-fixture.js';

interface ShimRun {
  code: number | null;
  stdout: string;
  stderr: string;
  report: Record<string, unknown>;
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await stopAll();
});

function runShim(args: string[]): Promise<ShimRun> {
  const { shim } = agentBundle();
  const child = spawn(shim, ['--report-fd', '3', ...args], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let report = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdio[3]?.on('data', (c: Buffer) => {
    report += c.toString();
  });
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const last = report.trim().split('\n').pop() || '{}';
      resolve({ code, stdout, stderr, report: JSON.parse(last) as Record<string, unknown> });
    }),
  );
}

describe('hearth-exec shim options', () => {
  it('reports the exit code, CPU time and peak memory of the program', async () => {
    const r = await runShim(['--', 'sh', '-c', 'exit 7']);
    expect(r.code).toBe(7);
    expect(r.report).toMatchObject({ exitCode: 7, signal: null, asLimitHit: false });
    expect(r.report.peakMemoryKb).toBeGreaterThan(0);
  });

  it('applies RLIMIT_FSIZE and RLIMIT_NOFILE', async () => {
    const dir = mkdtempSync('/var/tmp/hearth-shim-test-');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const big = await runShim([
      '--fsize-bytes',
      '1000',
      '--',
      'sh',
      '-c',
      `head -c 5000 /dev/zero > ${dir}/f`,
    ]);
    expect(big.code).not.toBe(0);
    expect(readFileSync(join(dir, 'f')).length).toBe(1000);
    const files = await runShim(['--nofile', '3', '--', 'sh', '-c', 'exec 3</dev/null && echo opened']);
    expect(files.stdout).not.toContain('opened');
  });

  it('joins a cgroup (v1 here) before running the program', async () => {
    const root = '/sys/fs/cgroup/pids';
    if (process.getuid?.() !== 0 || !existsSync(join(root, 'cgroup.procs'))) return;
    const name = `hearth-shim-test-${process.pid}`;
    mkdirSync(join(root, name));
    cleanups.push(() => rmdirSync(join(root, name)));
    const r = await runShim(['--cgroup', join(root, name), '--', 'cat', '/proc/self/cgroup']);
    expect(r.stdout).toMatch(new RegExp(`pids:/${name}$`, 'm'));
  });

  it('drops to --uid/--gid with no supplementary groups', async () => {
    if (process.getuid?.() !== 0) return;
    const r = await runShim(['--uid', '65534', '--gid', '65534', '--', 'id']);
    expect(r.stdout.trim()).toMatch(/^uid=65534\(\w+\) gid=65534\(\w+\) groups=65534\(\w+\)$/);
  });

  it("drops privileges in the program alone: the shim keeps its uid, out of the program's reach", async () => {
    if (process.getuid?.() !== 0) return;
    const r = await runShim([
      '--uid',
      '65534',
      '--gid',
      '65534',
      '--',
      'sh',
      '-c',
      'grep ^Uid: /proc/$PPID/status; kill -STOP $PPID || echo refused',
    ]);
    expect(r.stdout).toMatch(/^Uid:\s+0\s+0\s+0\s+0\n/);
    expect(r.stdout).toMatch(/refused\n$/);
  });

  it('loads a --seccomp filter in the program, not in itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-shim-filter-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'filter.bpf'), sandboxFilterBytes());
    const r = await runShim([
      '--seccomp',
      join(dir, 'filter.bpf'),
      '--',
      'sh',
      '-c',
      'grep ^Seccomp: /proc/self/status; grep ^Seccomp: /proc/$PPID/status',
    ]);
    expect(r.stdout).toMatch(/^Seccomp:\s+2\nSeccomp:\s+0\n$/);
    writeFileSync(join(dir, 'bad.bpf'), 'odd');
    const bad = await runShim(['--seccomp', join(dir, 'bad.bpf'), '--', 'true']);
    expect(bad.code).toBe(125);
  });

  it('kills orphans when the program exits, unless --no-kill-orphans', async () => {
    const killed = await runShim(['--', 'sh', '-c', 'sleep 60 & echo $!']);
    expect(alive(Number(killed.stdout.trim()))).toBe(false);
    const kept = await runShim(['--no-kill-orphans', '--', 'sh', '-c', 'sleep 60 >/dev/null 2>&1 & echo $!']);
    const pid = Number(kept.stdout.trim());
    cleanups.push(() => {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    expect(alive(pid)).toBe(true);
  });

  it('reports exec failure with status 127 and a message', async () => {
    const r = await runShim(['--', '/no/such/program']);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('/no/such/program');
  });
});

describe('agent without the shim', () => {
  it('spawns directly, says so, and still enforces the wall-clock limit on the whole group', async () => {
    const { agent } = agentBundle();
    const dir = mkdtempSync('/var/tmp/hearth-agent-noshim-');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    copyFileSync(agent, join(dir, 'agent.js'));
    const child = spawn(process.execPath, [join(dir, 'agent.js'), '--work-dir', join(dir, 'work')], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    cleanups.push(() => stopChild(child));
    const client = await AgentClient.connect({ readable: child.stdout, writable: child.stdin });
    cleanups.push(() => client.close());
    expect(client.info.capabilities).toContain('exec-direct');
    const r = await client.run({ shell: 'echo hi; exit 4' });
    expect(r).toMatchObject({ exitCode: 4, stdout: Buffer.from('hi\n') });
    const t = await client.run({ shell: 'sleep 60 & echo $!; wait', limits: { timeoutMs: 500 } });
    expect(t.timedOut).toBe(true);
    expect(alive(Number(t.stdout.toString().trim()))).toBe(false);
  });
});
