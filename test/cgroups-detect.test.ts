/**
 * cgroup detection against fixture trees of every layout a host may have (built in a temp dir:
 * plain directories and files standing in for cgroupfs), then one real run on this host's layout.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createBwrapBackend } from '../src/backends/bwrap/bwrap-backend.js';
import { hearthPaths } from '../src/config/paths.js';
import { type CgroupSupport, detectCgroupLayout, existingCgroupParents } from '../src/host/cgroup-detect.js';
import { detectCgroups, SandboxCgroup } from '../src/host/cgroups.js';
import { newSandboxId, ownerTag } from '../src/host/sandbox-id.js';

const base = mkdtempSync(join(tmpdir(), 'hearth-cgroup-fixtures-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A fixture tree: `files` maps relative paths to contents; `links` maps link names to targets. */
function tree(name: string, files: Record<string, string>, links: Record<string, string> = {}): string {
  const root = join(base, name);
  mkdirSync(root, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  for (const [link, target] of Object.entries(links)) symlinkSync(target, join(root, link));
  return root;
}

const v1Memory = { 'memory/memory.limit_in_bytes': '9223372036854771712\n', 'memory/cgroup.procs': '' };
const v1Pids = { 'pids/cgroup.procs': '' };
const v1CpuApart = { 'cpu/cpu.shares': '1024\n', 'cpuacct/cpuacct.usage': '0\n' };

/** A sandbox group made under `support` has a directory for every controller, and goes away whole. */
async function createsSandboxGroup(support: CgroupSupport, expected: number): Promise<void> {
  const cg = await SandboxCgroup.create(newSandboxId('test'), {}, support);
  if (!cg) throw new Error(`no group under ${support.reason}`);
  expect(cg.dirs).toHaveLength(expected);
  for (const d of cg.dirs) expect(existsSync(d), d).toBe(true);
  await cg.remove();
  for (const d of cg.dirs) expect(existsSync(d), d).toBe(false);
}

describe('detectCgroupLayout on fixture trees', () => {
  test('v2: one hearth parent for every controller, memory and pids delegated to it', async () => {
    const root = tree('v2', {
      'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
      'cgroup.subtree_control': '',
    });
    const s = detectCgroupLayout(root);
    const parent = join(root, 'hearth');
    expect(s).toMatchObject({ mode: 'v2', parents: { memory: parent, pids: parent, cpuacct: parent } });
    expect(existsSync(parent)).toBe(true);
    expect(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8').split(' ').sort()).toEqual([
      '+memory',
      '+pids',
    ]);
    await createsSandboxGroup(s, 1);
  });

  test('v1 with cpu,cpuacct co-mounted (no symlinks): the co-mount carries the cpuacct parent', async () => {
    const root = tree('v1-comount', { ...v1Memory, ...v1Pids, 'cpu,cpuacct/cpuacct.usage': '0\n' });
    const s = detectCgroupLayout(root);
    expect(s.mode).toBe('v1');
    expect(s.parents?.cpuacct).toBe(join(root, 'cpu,cpuacct', 'hearth'));
    for (const p of Object.values(s.parents ?? {})) expect(existsSync(p), p).toBe(true);
    await createsSandboxGroup(s, 3);
  });

  test('v1 with cpu,cpuacct co-mounted and Debian’s cpu and cpuacct symlinks to it', async () => {
    const root = tree(
      'v1-comount-links',
      { ...v1Memory, ...v1Pids, 'cpu,cpuacct/cpuacct.usage': '0\n' },
      { cpu: 'cpu,cpuacct', cpuacct: 'cpu,cpuacct' },
    );
    const s = detectCgroupLayout(root);
    expect(realpathSync(s.parents?.cpuacct ?? '/nonexistent')).toBe(
      realpathSync(join(root, 'cpu,cpuacct', 'hearth')),
    );
    // The sweep names the co-mounted hierarchy's parent once, not once per symlink.
    const cpuParents = existingCgroupParents(root).filter((p) => realpathSync(p).includes('cpu,cpuacct'));
    expect(cpuParents).toHaveLength(1);
    await createsSandboxGroup(s, 3);
  });

  test('v1 with cpu and cpuacct mounted apart: the cpuacct parent is created too', async () => {
    const root = tree('v1-apart', { ...v1Memory, ...v1Pids, ...v1CpuApart });
    const s = detectCgroupLayout(root);
    expect(s).toMatchObject({
      mode: 'v1',
      parents: {
        memory: join(root, 'memory/hearth'),
        pids: join(root, 'pids/hearth'),
        cpuacct: join(root, 'cpuacct/hearth'),
      },
    });
    expect(existsSync(join(root, 'cpuacct/hearth'))).toBe(true);
    expect(existsSync(join(root, 'cpu/hearth'))).toBe(false);
    await createsSandboxGroup(s, 3);
  });

  test('v1 without cpuacct: memory and pids only, and the reason says CPU time is missing', async () => {
    const root = tree('v1-no-cpuacct', { ...v1Memory, ...v1Pids, 'cpu/cpu.shares': '1024\n' });
    const s = detectCgroupLayout(root);
    expect(s.mode).toBe('v1');
    expect(s.parents?.cpuacct).toBeUndefined();
    expect(s.reason).toMatch(/no cpuacct/);
    await createsSandboxGroup(s, 2);
  });

  test('hybrid with an empty unified tree: the v1 hierarchies are used', async () => {
    const root = tree('hybrid', {
      'unified/cgroup.controllers': '',
      'unified/cgroup.procs': '',
      ...v1Memory,
      ...v1Pids,
      ...v1CpuApart,
    });
    const s = detectCgroupLayout(root);
    expect(s.mode).toBe('v1');
    expect(s.parents?.cpuacct).toBe(join(root, 'cpuacct/hearth'));
    expect(existsSync(join(root, 'unified/hearth'))).toBe(false);
    await createsSandboxGroup(s, 3);
  });

  test('none: no controllers, nothing created, no sandbox group', async () => {
    const root = tree('none', { README: 'not a cgroup tree\n' });
    const s = detectCgroupLayout(root);
    expect(s.mode).toBe('none');
    expect(s.reason).toContain(root);
    expect(readdirSync(root)).toEqual(['README']);
    expect(await SandboxCgroup.create(newSandboxId('test'), {}, s)).toBeUndefined();
  });

  test('the reaper sweeps every hierarchy’s parent, the unified one of a hybrid too', () => {
    const root = tree('sweep', { ...v1Memory, ...v1Pids, ...v1CpuApart, 'unified/hearth/x': '' });
    detectCgroupLayout(root);
    expect(existingCgroupParents(root).sort()).toEqual(
      ['cpuacct', 'memory', 'pids', 'unified'].map((c) => join(root, c, 'hearth')),
    );
  });
});

const host = detectCgroups();
const paths = hearthPaths();

describe.skipIf(host.mode === 'none')(`this host (${host.reason})`, () => {
  test('a bwrap one-shot run is accounted in the cpuacct hierarchy, wherever it is mounted', async () => {
    const cpuParent = host.parents?.cpuacct;
    if (!cpuParent) throw new Error(`no cpuacct on this host: ${host.reason}`);
    const backend = createBwrapBackend({ paths });
    try {
      const [r] =
        (await backend.runOnce?.(
          { image: 'default' },
          {
            files: [],
            steps: [{ argv: ['python3', '-c', 'n = 0\nfor i in range(3_000_000): n += i\nprint(n)'] }],
          },
        )) ?? [];
      expect(r?.exitCode, r?.stderr.toString()).toBe(0);
      expect(r?.cpuTimeMs).toBeGreaterThan(0);
      // The run's group stays in the pool: its cpuacct counter holds the run's CPU time.
      const pooled = readdirSync(cpuParent).filter((n) => n.startsWith(`bwrap-${ownerTag()}-pool`));
      expect(pooled.length).toBeGreaterThan(0);
      const usageNs = pooled.map((n) => Number(readFileSync(join(cpuParent, n, 'cpuacct.usage'), 'utf8')));
      expect(Math.max(...usageNs)).toBeGreaterThan(0);
    } finally {
      await backend.close?.();
    }
    const left = readdirSync(cpuParent).filter((n) => n.startsWith(`bwrap-${ownerTag()}-`));
    expect(left).toEqual([]);
  });
});
