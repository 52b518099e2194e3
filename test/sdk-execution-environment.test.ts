import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionEnvironment } from '../src/sdk/index.js';
import { type SessionServer, startSessionServer } from './session-server-fixture.js';

// The seed's execution-environment interface over a real `hearth serve` (bwrap).
describe('ExecutionEnvironment', () => {
  let server: SessionServer;
  let env: ExecutionEnvironment;

  beforeAll(async () => {
    server = await startSessionServer();
    env = new ExecutionEnvironment({ baseUrl: server.url, token: server.token, name: 'env-test' });
  });
  afterAll(async () => {
    await env?.cleanup();
    expect(await server.close()).toEqual([]);
  });

  it('runs code in a persistent interpreter per named session, with the seed result fields', async () => {
    const first = await env.executeCode('x = 20');
    expect(first).toMatchObject({ exitCode: 0, timedOut: false, truncated: false });
    expect(first.executionTimeMs).toBeGreaterThanOrEqual(0);
    expect(await env.executeCode('print(x + 22)')).toMatchObject({ stdout: '42\n', exitCode: 0 });

    // Another name is another session: x is not there.
    const other = await env.executeCode('print(x)', { sessionId: 'other' });
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain('NameError');
  });

  it('a second environment object with the same name finds the same session in hearth', async () => {
    const again = new ExecutionEnvironment({ baseUrl: server.url, token: server.token, name: 'env-test' });
    expect(await again.executeCode('print(x)')).toMatchObject({ stdout: '20\n' });
  });

  it('runs commands with cwd and env; exit code -1 on timeout; output cut at maxOutputBytes', async () => {
    const r = await env.executeCommand('pwd; echo "$V"; exit 4', { workingDir: '/tmp', env: { V: 'v' } });
    expect(r).toMatchObject({ stdout: '/tmp\nv\n', exitCode: 4, timedOut: false });
    const slow = await env.executeCommand('sleep 30', { timeoutMs: 300 });
    expect(slow).toMatchObject({ exitCode: -1, timedOut: true });
    const big = await env.executeCommand('head -c 5000 /dev/zero | tr "\\0" a', { maxOutputBytes: 100 });
    expect(big.stdout).toBe('a'.repeat(100));
    expect(big.truncated).toBe(true);
  });

  it('snapshots of a named session: create, list, restore, delete one, delete all', async () => {
    await env.executeCommand('echo one > /tmp/f');
    const id = await env.createSnapshot(undefined, 'first');
    await env.executeCommand('echo two > /tmp/f');
    await env.restoreSnapshot(undefined, id);
    expect((await env.executeCommand('cat /tmp/f')).stdout).toBe('one\n');
    const second = await env.createSnapshot();
    expect((await env.listSnapshots()).map((s) => s.id).sort()).toEqual([id, second].sort());
    await env.deleteSnapshot(second);
    expect(await env.deleteSessionSnapshots()).toBe(1);
    expect(await env.listSnapshots()).toEqual([]);
  });

  it('capabilities, backend type, health; validate asks the server', async () => {
    expect(await env.backendType()).toBe('bwrap');
    const caps = await env.capabilities();
    expect(caps).toEqual(expect.arrayContaining(['container-isolation', 'snapshots', 'python', 'bash']));
    expect(caps).not.toContain('vm-isolation');
    expect(await env.hasCapability('memory-snapshots')).toBe(false);
    expect(await env.healthCheck()).toMatchObject({ healthy: true });
    const nowhere = new ExecutionEnvironment({ baseUrl: 'http://127.0.0.1:1', requestTimeoutMs: 5000 });
    expect(await nowhere.healthCheck()).toMatchObject({ healthy: false });
    const v = await env.validate('rm -rf /', { strictness: 'strict' });
    expect(v).toMatchObject({ configured: true, valid: true, matchedTerms: ['rm'], strictness: 'strict' });
  });

  it('endSession ends one named session; cleanup ends the rest of this environment', async () => {
    await env.endSession('other');
    const labelled = () => server.client.listSessions({ metadata: { 'hearth.environment': 'env-test' } });
    const live = (await labelled()).filter((s) => s.state === 'running');
    expect(live).toHaveLength(1);
    expect(await env.cleanup()).toBe(1);
    expect((await labelled()).filter((s) => s.state === 'running')).toEqual([]);
    // The next call starts a fresh session: the old variables are gone.
    expect((await env.executeCode('print(x)')).exitCode).toBe(1);
  });
});
