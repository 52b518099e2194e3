/**
 * The exec server (`hearth-exec --server`): execs are forked by it, not by Node; when it dies the
 * agent falls back to a per-exec spawn and starts it again; HEARTH_EXEC_SERVER=0 turns it off.
 * Real agent, real shim, real processes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../src/agent/client.js';
import { agentBundle, alive, stopChild } from './agent-fixture.js';

const started: Array<{ child: ChildProcess; client: AgentClient; workDir: string }> = [];

afterEach(async () => {
  for (const a of started.splice(0)) {
    await a.client.close();
    await stopChild(a.child);
    rmSync(a.workDir, { recursive: true, force: true });
  }
});

async function agent(
  env: Record<string, string> = {},
): Promise<{ client: AgentClient; child: ChildProcess }> {
  const { agent: bundle, shim } = agentBundle();
  const workDir = mkdtempSync('/var/tmp/hearth-exec-server-test-');
  const child = spawn(process.execPath, [bundle, '--stdio', '--work-dir', workDir], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { HEARTH_SHIM: shim, PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  const client = await AgentClient.connect({ readable: child.stdout!, writable: child.stdin! });
  started.push({ child, client, workDir });
  return { client, child };
}

/** The parent pid of a process, from /proc. */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

/** Runs `sleep` and returns the chain shim -> its parent, while it runs. */
async function shimParent(
  client: AgentClient,
): Promise<{ shim: number; parent: number; done: Promise<unknown> }> {
  const h = client.exec({ argv: ['sleep', '30'] });
  const { pid } = await h.started;
  const parent = parentOf(pid);
  void h.kill('SIGKILL');
  return { shim: pid, parent, done: h.exit };
}

describe('exec server', () => {
  it('forks execs from one long-lived hearth-exec --server, a child of the agent', async () => {
    const { client, child } = await agent();
    const first = await shimParent(client);
    const second = await shimParent(client);
    expect(first.parent).toBe(second.parent);
    expect(cmdline(first.parent).slice(-1)).toEqual(['--server']);
    expect(parentOf(first.parent)).toBe(child.pid);
    await Promise.all([first.done, second.done]);
    const r = await client.run({ shell: 'read x; echo "got $x"; echo err >&2; exit 4', stdin: 'hi\n' });
    expect([r.exitCode, r.stdout.toString(), r.stderr.toString()]).toEqual([4, 'got hi\n', 'err\n']);
  });

  it('reports the exit of every short exec, however its messages are batched', async () => {
    const { client } = await agent();
    const codes = Array.from({ length: 120 }, (_, i) => i % 7);
    const runs = codes.map((code) => client.run({ argv: ['sh', '-c', `exit ${code}`] }));
    expect((await Promise.all(runs)).map((r) => r.exitCode)).toEqual(codes);
    const killed = await client.run({ argv: ['sh', '-c', 'kill -TERM $$'] });
    expect([killed.exitCode, killed.signal]).toEqual([null, 'SIGTERM']);
  });

  it('falls back to a per-exec spawn when the server dies, and starts a new one', async () => {
    const { client, child } = await agent();
    const before = await shimParent(client);
    await before.done;
    process.kill(before.parent, 'SIGKILL');
    while (alive(before.parent)) await new Promise((r) => setTimeout(r, 10));
    const results = await Promise.all([1, 2, 3].map((n) => client.run({ shell: `echo ${n}` })));
    expect(results.map((r) => r.stdout.toString())).toEqual(['1\n', '2\n', '3\n']);
    const after = await shimParent(client);
    await after.done;
    expect(after.parent).not.toBe(before.parent);
    expect(cmdline(after.parent).slice(-1)).toEqual(['--server']);
    expect(parentOf(after.parent)).toBe(child.pid);
  });

  it('spawns one shim per exec from the agent when HEARTH_EXEC_SERVER=0', async () => {
    const { client, child } = await agent({ HEARTH_EXEC_SERVER: '0' });
    const run = await shimParent(client);
    await run.done;
    expect(run.parent).toBe(child.pid);
    expect((await client.run({ argv: ['cat'], stdin: 'x' })).stdout.toString()).toBe('x');
  });

  it('spawns per exec, without retrying, when the shim cannot serve (an older hearth-exec)', async () => {
    const { shim } = agentBundle();
    const dir = mkdtempSync('/var/tmp/hearth-old-shim-');
    const old = `${dir}/hearth-exec`;
    writeFileSync(old, `#!/bin/sh\n[ "$1" = --server ] && exit 125\nexec ${shim} "$@"\n`);
    chmodSync(old, 0o755);
    try {
      const { client, child } = await agent({ HEARTH_SHIM: old });
      const results = await Promise.all([1, 2].map((n) => client.run({ shell: `echo ${n}` })));
      expect(results.map((r) => r.stdout.toString())).toEqual(['1\n', '2\n']);
      const run = await shimParent(client);
      await run.done;
      expect(run.parent).toBe(child.pid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes the server and its running execs down with the agent', async () => {
    const { client, child } = await agent();
    const h = client.exec({ argv: ['sleep', '30'] });
    const { pid } = await h.started;
    const server = parentOf(pid);
    h.exit.catch(() => {});
    child.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while ((alive(server) || alive(pid)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect([alive(server), alive(pid)]).toEqual([false, false]);
  });
});
