/**
 * The exec shim's report where nothing stops a program from reaching it: a local guest agent (no
 * seccomp, run as root, so pidfd_getfd works even on the non-dumpable shim). The program forges
 * "exit 0", floods and breaks the report; the agent still reports what its waitpid saw.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, stopAll } from '../agent-fixture.js';

afterEach(stopAll);

const STEAL = `
import ctypes, os, sys
l = ctypes.CDLL(None, use_errno=True)
fd = l.syscall(438, l.syscall(434, os.getppid(), 0), 3, 0)
if fd < 0: print('no fd', ctypes.get_errno(), flush=True); os._exit(9)
`;

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('a program that reaches its shim report (local agent, as root)', () => {
  it('forging "exit 0", then killing the shim so its true report never comes: never reported as 0', async () => {
    const { client } = await startAgent();
    const forged = `${STEAL}
import signal
os.write(fd, b'{"exitCode":0,"signal":null,"cpuTimeMs":1,"peakMemoryKb":2,"asLimitHit":false}\\n')
os.kill(os.getppid(), signal.SIGKILL)
os._exit(3)`;
    const r = await client.run({ argv: ['python3', '-c', forged] });
    expect(r.stdout.toString()).toBe('');
    // What the agent's waitpid saw: its shim killed. The forged report contradicts it and loses.
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe('SIGKILL');
  });

  it('forging "exit 0" while exiting 3: the agent reports 3', async () => {
    const { client } = await startAgent();
    const forged = `${STEAL}
os.write(fd, b'{"exitCode":0,"signal":null,"cpuTimeMs":1,"peakMemoryKb":2,"asLimitHit":false}\\n')
os._exit(3)`;
    const r = await client.run({ argv: ['python3', '-c', forged] });
    expect(r.exitCode).toBe(3);
    expect(r.signal).toBeNull();
  });

  it('a malformed line, then a flood: the agent stays up and reports the honest exit', async () => {
    const { client } = await startAgent();
    const broken = `${STEAL}
os.write(fd, b'{"exitCode":x\\n')
os.write(fd, b'{' * (4 << 20))
os._exit(4)`;
    const r = await client.run({ argv: ['python3', '-c', broken] });
    expect(r.exitCode).toBe(4);
    expect(await client.ping()).toBeGreaterThan(0);
    expect((await client.run({ shell: 'echo still here' })).stdout.toString()).toBe('still here\n');
  });
});
