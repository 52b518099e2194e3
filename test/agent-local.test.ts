import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, type LocalAgent, startAgent, stopAll } from './agent-fixture.js';

afterEach(stopAll);

async function agent(): Promise<LocalAgent> {
  return startAgent();
}

describe('guest agent exec (local process, real shim)', () => {
  it('says hello with its version, capabilities and limit mechanism', async () => {
    const { client, workDir } = await agent();
    expect(client.info.protocolVersion).toBe(1);
    expect(client.info.capabilities).toContain('exec-shim');
    expect(client.info.workDir).toBe(workDir);
    expect(['rlimit', 'cgroup-v2']).toContain(client.info.limitMechanism);
    expect(await client.ping()).toBeGreaterThan(0);
  });

  it('reports exit codes and signals, and keeps stdout and stderr apart', async () => {
    const { client } = await agent();
    const r = await client.run({ shell: 'echo out; echo err >&2; exit 3' });
    expect(r.exitCode).toBe(3);
    expect(r.signal).toBeNull();
    expect(r.stdout.toString()).toBe('out\n');
    expect(r.stderr.toString()).toBe('err\n');
    const killed = await client.run({ argv: ['sh', '-c', 'kill -TERM $$'] });
    expect(killed.exitCode).toBeNull();
    expect(killed.signal).toBe('SIGTERM');
    const missing = await client.run({ argv: ['no-such-program-here'] });
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr.toString()).toContain('no-such-program-here');
  });

  it('runs in the work dir with a clean env plus the request env', async () => {
    const { client, workDir } = await agent();
    await client.mkdir('sub');
    const r = await client.run({
      shell: 'pwd; echo "$HOME|$FOO|$LANG|$' + '{HEARTH_SHIM:-none}"',
      cwd: 'sub',
      env: { FOO: 'bar' },
    });
    expect(r.stdout.toString()).toBe(`${join(workDir, 'sub')}\n${workDir}|bar|C.UTF-8|none\n`);
    await expect(client.run({ argv: ['true'], cwd: 'nope' })).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
    });
    await expect(client.run({ argv: ['true'], shell: 'true' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });

  it('passes binary output byte-exact, all 256 byte values', async () => {
    const { client } = await agent();
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await client.writeFile('bytes.bin', all);
    const r = await client.run({ argv: ['cat', 'bytes.bin', 'bytes.bin'] });
    expect(r.stdout.equals(Buffer.concat([all, all]))).toBe(true);
  });

  it('streams 10 MB whole, in and out', async () => {
    const { client } = await agent();
    const big = randomBytes(10 * 1024 * 1024);
    await client.writeFile('big.bin', big);
    let chunks = 0;
    const r = await client.run({ argv: ['cat', 'big.bin'] }, { onStdout: () => void chunks++ });
    expect(r.stdout.length).toBe(big.length);
    expect(r.stdout.equals(big)).toBe(true);
    expect(chunks).toBeGreaterThan(1);
    const piped = await client.run({ argv: ['sha256sum'], stdin: big });
    const { createHash } = await import('node:crypto');
    expect(piped.stdout.toString().split(' ')[0]).toBe(createHash('sha256').update(big).digest('hex'));
  });

  it('pipes stdin written in pieces and closed', async () => {
    const { client } = await agent();
    let out = '';
    const h = client.exec(
      { argv: ['cat'], stdin: 'pipe' },
      {
        onStdout: (c) => {
          out += c.toString();
        },
      },
    );
    expect((await h.started).pid).toBeGreaterThan(0);
    h.writeStdin('one ');
    h.writeStdin(Buffer.from('two'));
    h.closeStdin();
    const exit = await h.exit;
    expect(exit.exitCode).toBe(0);
    expect(out).toBe('one two');
    expect((await client.run({ argv: ['cat'], stdin: 'x' })).stdout.toString()).toBe('x');
  });

  it('kills on timeout a tree with a setsid grandchild, keeping the output so far', async () => {
    const { client, workDir } = await agent();
    const r = await client.run({
      shell: 'echo before; setsid sh -c "echo \\$\\$ > grandchild.pid; sleep 60" & sleep 60',
      limits: { timeoutMs: 1000 },
    });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(r.stdout.toString()).toBe('before\n');
    const pid = Number(readFileSync(join(workDir, 'grandchild.pid'), 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
  });

  it('cuts output exactly at the cap, flags it and kills the program', async () => {
    const { client } = await agent();
    const r = await client.run({
      shell: 'yes hearth; ',
      limits: { maxOutputBytes: 100_000, timeoutMs: 20_000 },
    });
    expect(r.truncated).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(r.stdout.length).toBe(100_000);
    expect(r.stdout.toString().startsWith('hearth\nhearth\n')).toBe(true);
    const mixed = await client.run({
      shell: 'head -c 3000 /dev/zero; head -c 3000 /dev/zero >&2; sleep 30',
      limits: { maxOutputBytes: 5000, timeoutMs: 20_000 },
    });
    expect(mixed.truncated).toBe(true);
    expect(mixed.stdout.length + mixed.stderr.length).toBe(5000);
  });

  it('reports outOfMemory when RLIMIT_AS refuses an allocation loop', async () => {
    const { client } = await agent();
    if (client.info.limitMechanism !== 'rlimit') return;
    const r = await client.run({
      argv: ['python3', '-c', 'a = []\nwhile True: a.append(b"x" * 1000000)'],
      limits: { memoryMb: 100, timeoutMs: 30_000 },
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.outOfMemory).toBe(true);
    expect(r.peakMemoryKb).toBeGreaterThan(10_000);
    const fine = await client.run({ argv: ['python3', '-c', 'print(1)'], limits: { memoryMb: 100 } });
    expect(fine.outOfMemory).toBe(false);
    expect(fine.exitCode).toBe(0);
  });

  it('stops a CPU-bound loop at the CPU time limit and reports the time used', async () => {
    const { client } = await agent();
    const r = await client.run({
      shell: 'while :; do :; done',
      limits: { cpuTimeMs: 500, timeoutMs: 30_000 },
    });
    expect(r.timedOut).toBe(true);
    expect(['SIGXCPU', 'SIGKILL']).toContain(r.signal);
    expect(r.cpuTimeMs).toBeGreaterThanOrEqual(500);
  });

  it('kills a running exec by request, SIGKILL by default and other signals to its group', async () => {
    const { client } = await agent();
    const h = client.exec({ argv: ['sleep', '60'] });
    await h.started;
    await h.kill();
    expect((await h.exit).signal).toBe('SIGKILL');
    const t = client.exec({ argv: ['sleep', '60'] });
    await t.started;
    // The shim learns the program's pid right after fork; give the report a moment to arrive.
    await new Promise((r) => setTimeout(r, 100));
    await t.kill('SIGTERM');
    expect((await t.exit).signal).toBe('SIGTERM');
    await t.kill(); // after exit: a no-op
  });
});
