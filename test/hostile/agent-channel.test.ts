/**
 * Hostile programs against the host side of the agent channel, on every usable agent backend:
 *   - bwrap and qemu: a program reaches none of the processes that hold the channel. bwrap: the
 *     agent, its exec server and the shims exec execute-only binaries, so the kernel makes them
 *     non-dumpable (no /proc/<pid>/mem, /proc/<pid>/fd, pidfd_getfd for their own uid), and the
 *     agent is the sandbox's pid 1 (bwrap's own init would hold its stdio, dumpable). qemu: programs
 *     run as uid 1000, the agent, shims and relay as root, the port is root's. A program that exits 3
 *     and tries to write `exit 0` events into the channel is reported as 3;
 *   - gVisor: neither /proc/<pid>/fd nor pidfd_open reach the channel, which the test shows; the
 *     malformed-frame path is taken through a real agent whose output a broken relay corrupts (and
 *     through the scripted hostile guest of test/agent-guest-validation.test.ts);
 *   - a program that SIGSTOPs the agent, its exec server and its shim with a short timeout: the
 *     exec ends by the host's deadline as timed out;
 *   - the same without a timeout: the watchdog's pings give the agent up, and other sandboxes run
 *     meanwhile and afterwards.
 * After each: the host answers, the result is honest or a clear error code, nothing is left.
 */
import type { ChildProcess } from 'node:child_process';
import { Transform } from 'node:stream';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { AgentClient } from '../../src/agent/client.js';
import type { BackendName, Sandbox, SandboxBackend } from '../../src/backends/backend.js';
import { loadBackend } from '../../src/backends/registry.js';
import { MemoryLedger } from '../../src/host/ledger.js';
import { alive, spawnAgent, stopAll } from '../agent-fixture.js';
import { settledLeftovers } from '../leak-check.js';
import { startServe } from '../serve-fixture.js';

// Short enough that a stopped agent is given up within seconds; long enough for a busy machine.
process.env.HEARTH_AGENT_PING_MS = '1500';
process.env.HEARTH_AGENT_PING_MISSES = '3';
process.env.HEARTH_AGENT_EXEC_GRACE_MS = '1500';

/**
 * Takes a descriptor of the process holding the channel to the host (with pidfd_getfd) and writes
 * a `null` JSON frame into it. argv: `agent` (the agent's stdout) or `relay` (the VM relay's port).
 * Exits 3, printing why, when the channel cannot be reached.
 */
const WRITE_NULL_FRAME = `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
want = sys.argv[1]
for p in os.listdir('/proc'):
    if not p.isdigit() or int(p) == os.getpid(): continue
    try:
        argv = open('/proc/%s/cmdline' % p, 'rb').read().split(b'\\0')
    except OSError:
        continue
    if want == 'agent' and len(argv) > 1 and argv[1].endswith(b'agent.js'):
        fds = [1]
    elif want == 'relay' and b'--relay' in argv:
        fds = [int(f) for f in os.listdir('/proc/%s/fd' % p) if os.readlink('/proc/%s/fd/%s' % (p, f)).startswith('/dev/vport')]
    else:
        continue
    try:
        os.write(os.open('/proc/%s/fd/%d' % (p, fds[0]), os.O_WRONLY), b'\\0\\0\\0\\x05\\0null')
        print('wrote through /proc', flush=True)
    except OSError as e:
        print('open /proc/%s/fd/%d: %s' % (p, fds[0], e), flush=True)
        try:
            pidfd = os.pidfd_open(int(p))
        except OSError as e:
            print('pidfd_open: %s' % e, flush=True)
            sys.exit(3)
        fd = libc.syscall(438, pidfd, fds[0], 0)
        if fd < 0:
            print('pidfd_getfd: errno %d' % ctypes.get_errno(), flush=True)
            sys.exit(3)
        os.write(fd, b'\\0\\0\\0\\x05\\0null')
        print('wrote through pidfd_getfd', flush=True)
    time.sleep(60)
    sys.exit(0)
print('no channel found', flush=True)
sys.exit(3)
`;

/**
 * Tries every way into the processes that hold the channel to the host (the agent, its exec
 * server, the shims, the VM relay): /proc/<pid>/mem, /proc/<pid>/fd/N, pidfd_getfd, the
 * virtio-serial port and (argv[1] `kill`) SIGKILL. Prints one line per attempt. argv[1] `forge`:
 * writes a well-formed `exit 0` event for every exec id into whatever it reaches. Exits 3 always.
 */
const REACH_CHANNEL = `
import ctypes, glob, json, os, signal, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
forge = len(sys.argv) > 1 and sys.argv[1] == 'forge'
def frames():
    out = b''
    for i in range(1, 33):
        body = json.dumps({'type': 'exit', 'id': i, 'exitCode': 0, 'signal': None, 'timedOut': False,
            'truncated': False, 'outOfMemory': False, 'cpuTimeMs': 0, 'wallTimeMs': 0, 'peakMemoryKb': 0}).encode()
        out += struct.pack('>IB', len(body) + 1, 0) + body
    return out
def reached(what, fd):
    print('%s: REACHED' % what, flush=True)
    if forge:
        try: os.write(fd, frames())
        except OSError: pass
def attempt(what, fn):
    try:
        fd = fn()
    except OSError as e:
        print('%s: %s' % (what, e.strerror), flush=True)
        return
    if fd < 0:
        print('%s: errno %d' % (what, ctypes.get_errno()), flush=True)
        return
    reached(what, fd)
for p in os.listdir('/proc'):
    if not p.isdigit() or int(p) == os.getpid(): continue
    try: argv = open('/proc/%s/cmdline' % p, 'rb').read().split(b'\\0')
    except OSError: continue
    if not any(a.endswith(b'agent.js') or a.endswith(b'hearth-exec') for a in argv): continue
    name = 'agent' if any(a.endswith(b'agent.js') for a in argv) else 'hearth-exec'
    if len(sys.argv) > 1 and sys.argv[1] == 'kill':
        try:
            os.kill(int(p), signal.SIGKILL)
            print('kill %s: REACHED' % name, flush=True)
        except OSError as e:
            print('kill %s: %s' % (name, e.strerror), flush=True)
    attempt('mem %s' % name, lambda: os.open('/proc/%s/mem' % p, os.O_RDWR))
    try:
        fds = os.listdir('/proc/%s/fd' % p)
        print('fd list %s: REACHED' % name, flush=True)
    except OSError as e:
        print('fd list %s: %s' % (name, e.strerror), flush=True)
        fds = ['0', '1', '3']
    for f in fds:
        attempt('fd %s %s' % (name, f), lambda: os.open('/proc/%s/fd/%s' % (p, f), os.O_WRONLY))
    try:
        pidfd = os.pidfd_open(int(p))
    except OSError as e:
        print('pidfd_open %s: %s' % (name, e.strerror), flush=True)
        continue
    for f in (0, 1, 3):
        attempt('pidfd_getfd %s' % name, lambda: libc.syscall(438, pidfd, f, 0))
for port in glob.glob('/dev/vport*'):
    attempt('open %s' % port, lambda: os.open(port, os.O_RDWR))
sys.exit(3)
`;

/** Prints, then stops every other process it can see (agent, exec server, shim, relay), then waits. */
const STOP_EVERYTHING = `echo before; sleep 0.5; for p in /proc/[0-9]*; do p=\${p#/proc/}; [ "$p" = "$$" ] || kill -STOP "$p" 2>/dev/null; done; sleep 1000`;

interface Env {
  name: BackendName;
  backend: SandboxBackend;
  ledger: MemoryLedger;
  usable: boolean;
  reason: string;
}

async function backendEnv(name: BackendName): Promise<Env> {
  const ledger = new MemoryLedger();
  const backend = await loadBackend(name, { ledger });
  const probe = await backend.probe();
  return { name, backend, ledger, usable: probe.usable, reason: probe.reason };
}

/** Waits until the backend has destroyed the sandbox on its own (its ledger record is gone). */
async function destroyedOnItsOwn(env: Env, sandbox: Sandbox): Promise<void> {
  await vi.waitFor(() => expect(env.ledger.list().map((r) => r.id)).not.toContain(sandbox.id), {
    timeout: 30_000,
    interval: 100,
  });
}

/** The host still serves: a fresh sandbox of the same backend runs a program. */
async function hostStillServes(env: Env): Promise<void> {
  const sandbox = await env.backend.create({ image: 'default' });
  try {
    const r = await sandbox.agent.run({ argv: ['echo', 'still here'], limits: { timeoutMs: 20_000 } });
    expect(r.stdout.toString()).toBe('still here\n');
  } finally {
    await sandbox.destroy();
  }
}

const BACKENDS: BackendName[] = ['bwrap', 'gvisor', 'qemu'];

for (const name of BACKENDS) {
  const env = await backendEnv(name);
  const vm = name === 'qemu';
  describe.skipIf(!env.usable)(`agent channel attacks on ${name} (${env.reason})`, () => {
    afterEach(async () => {
      // A VM backend keeps a warm pool until closed; its leftovers are checked in afterAll.
      if (!vm) expect(await settledLeftovers()).toEqual([]);
    });
    afterAll(async () => {
      await env.backend.close?.();
      expect(await settledLeftovers()).toEqual([]);
    });

    if (name === 'gvisor') {
      it('a program cannot reach the channel to the host (no /proc fd open, no pidfd)', async () => {
        const sandbox = await env.backend.create({ image: 'default' });
        try {
          const r = await sandbox.agent.run({
            argv: ['python3', '-c', WRITE_NULL_FRAME, 'agent'],
            limits: { timeoutMs: 20_000 },
          });
          expect(r.exitCode).toBe(3);
          expect(r.stdout.toString()).toMatch(/pidfd_open|pidfd_getfd/);
          expect(await sandbox.agent.ping()).toBeGreaterThan(0);
        } finally {
          await sandbox.destroy();
        }
      });
    } else {
      it('a program reaches neither the agent, nor its exec server and shims, nor the relay', async () => {
        const sandbox = await env.backend.create({ image: 'default' });
        try {
          const r = await sandbox.agent.run({
            argv: ['python3', '-c', REACH_CHANNEL, vm ? 'kill' : 'probe'],
            limits: { timeoutMs: 30_000 },
          });
          const out = r.stdout.toString();
          expect(r.exitCode).toBe(3);
          expect(out).not.toContain('REACHED');
          expect(out).toMatch(/^mem agent: Permission denied$/m);
          expect(out).toMatch(/^mem hearth-exec: Permission denied$/m);
          expect(out).toMatch(/^fd list agent: Permission denied$/m);
          expect(out).toMatch(/^pidfd_getfd agent: errno 1$/m);
          if (vm) {
            expect(out).toMatch(/^open \/dev\/vport\S+: Permission denied$/m);
            expect(out).toMatch(/^kill agent: Operation not permitted$/m);
            expect(out).toMatch(/^kill hearth-exec: Operation not permitted$/m);
          }
          expect(await sandbox.agent.ping()).toBeGreaterThan(0);
          const after = await sandbox.agent.run({ argv: ['echo', 'after'], limits: { timeoutMs: 20_000 } });
          expect(after.stdout.toString()).toBe('after\n');
        } finally {
          await sandbox.destroy();
        }
      });

      it('a program that exits 3 and tries to report exit 0 through the channel is reported as 3', async () => {
        const sandbox = await env.backend.create({ image: 'default' });
        try {
          const r = await sandbox.agent.run({
            argv: ['python3', '-c', REACH_CHANNEL, 'forge'],
            limits: { timeoutMs: 30_000 },
          });
          expect(r.stdout.toString()).not.toContain('REACHED');
          expect(r.exitCode).toBe(3);
          expect(r.signal).toBeNull();
        } finally {
          await sandbox.destroy();
        }
      });

      it('JavaScript still runs (node is execute-only for programs too); programs run filtered, as uid 1000, and own what the files API writes', async () => {
        const sandbox = await env.backend.create({ image: 'default' });
        try {
          await sandbox.agent.writeFile('given/deep/w.txt', Buffer.from('given\n'));
          await sandbox.agent.mkdir('made/a', { recursive: true });
          const own = await sandbox.agent.run({
            shell:
              'echo more >> given/deep/w.txt && mkdir given/deep/x made/a/y && id -u && grep ^Seccomp: /proc/self/status',
            limits: { timeoutMs: 30_000 },
          });
          expect(own.stderr.toString()).toBe('');
          expect(own.stdout.toString()).toMatch(/^1000\nSeccomp:\s+2\n$/);
          expect((await sandbox.agent.readFile('given/deep/w.txt')).toString()).toBe('given\nmore\n');
          const r = await sandbox.agent.run({
            argv: [
              'node',
              '-e',
              'require("fs").writeFileSync("js.txt", String(6 * 7)); console.log(process.getuid())',
            ],
            limits: { timeoutMs: 60_000 },
          });
          expect(r.exitCode).toBe(0);
          expect(r.stdout.toString()).toBe('1000\n');
          expect((await sandbox.agent.readFile('js.txt')).toString()).toBe('42');
        } finally {
          await sandbox.destroy();
        }
      });
    }

    it('a program that stops the agent and its exec server ends by the host deadline, timed out', async () => {
      const sandbox = await env.backend.create({ image: 'default' });
      try {
        const r = await sandbox.agent.run({
          shell: STOP_EVERYTHING,
          limits: { timeoutMs: vm ? 3000 : 1500 },
        });
        expect(r.timedOut).toBe(true);
        expect(r.exitCode).toBeNull();
        expect(r.stdout.toString()).toBe('before\n');
        // In a VM the program (uid 1000) cannot stop the agent, its shims nor the relay (root).
        if (vm) expect(await sandbox.agent.ping()).toBeGreaterThan(0);
        else await destroyedOnItsOwn(env, sandbox);
      } finally {
        await sandbox.destroy();
      }
      if (!vm) await hostStillServes(env);
    });

    it.runIf(name === 'bwrap')(
      'a program cannot stop the agent (its pid 1): it answers meanwhile, and destroying the sandbox ends all',
      async () => {
        const sandbox = await env.backend.create({ image: 'default' });
        try {
          const stuck = sandbox.agent.run({ shell: STOP_EVERYTHING }).then(
            (r) => r,
            (err: unknown) => err,
          );
          await new Promise((r) => setTimeout(r, 2000));
          expect(await sandbox.agent.ping()).toBeGreaterThan(0);
          await sandbox.destroy();
          expect(await stuck).toMatchObject({ code: expect.any(String) });
        } finally {
          await sandbox.destroy();
        }
        await hostStillServes(env);
      },
    );

    it.runIf(name === 'gvisor')(
      'a stopped agent without a timeout is given up by the watchdog; other sandboxes run meanwhile and after',
      async () => {
        const victim = await env.backend.create({ image: 'default' });
        const other = await env.backend.create({ image: 'default' });
        try {
          const stuck = victim.agent.run({ shell: STOP_EVERYTHING }).then(
            (r) => r,
            (err: unknown) => err,
          );
          const meanwhile = await other.agent.run({ shell: 'sleep 1; echo meanwhile' });
          expect(meanwhile.stdout.toString()).toBe('meanwhile\n');
          expect(await stuck).toMatchObject({ code: 'AGENT_TIMEOUT', message: /missed 3 pings/ });
          await destroyedOnItsOwn(env, victim);
          expect((await other.agent.run({ argv: ['echo', 'after'] })).stdout.toString()).toBe('after\n');
        } finally {
          await victim.destroy();
          await other.destroy();
        }
      },
    );
  });
}

describe('a real agent whose output a broken relay corrupts', () => {
  afterEach(stopAll);

  it('ends the connection with AGENT_PROTOCOL, fails the pending exec, and the agent exits', async () => {
    const { child } = spawnAgent();
    let corrupt = false;
    const relay = new Transform({
      transform(chunk: Buffer, _enc, done) {
        // Once told to, the relay puts a null frame before whatever the agent says next.
        if (corrupt) {
          corrupt = false;
          this.push(Buffer.from([0, 0, 0, 5, 0, ...Buffer.from('null')]));
        }
        done(null, chunk);
      },
    });
    child.stdout?.pipe(relay);
    const client = await AgentClient.connect({ readable: relay, writable: child.stdin! });
    const closed = new Promise<Error | undefined>((r) => client.onClose(r));
    expect((await client.run({ argv: ['echo', 'ok'] })).stdout.toString()).toBe('ok\n');
    corrupt = true;
    await expect(client.run({ argv: ['echo', 'lost'] })).rejects.toMatchObject({ code: 'AGENT_PROTOCOL' });
    expect(await closed).toMatchObject({ code: 'AGENT_PROTOCOL', message: /not an object/ });
    // The host closed the agent's stdin: it stops by itself.
    await vi.waitFor(() => expect(alive(child.pid as number)).toBe(false), { timeout: 10_000 });
  });
});

describe.skipIf(!(await backendEnv('gvisor')).usable)(
  'jobs on gVisor (through the agent) with one sandbox slot',
  () => {
    let server: { child: ChildProcess; url: string } | undefined;
    afterAll(async () => {
      const pid = server?.child.pid;
      if (server) await stopServe(server.child);
      if (pid) expect(await settledLeftovers({ ownerPids: [pid] })).toEqual([]);
    });

    it('a job that stops its agent ends by the host deadline and the next job still runs', async () => {
      server = await startServe({
        HEARTH_BACKEND: 'gvisor',
        HEARTH_SANDBOX_CONCURRENCY: '1',
        HEARTH_AGENT_PING_MS: '1500',
        HEARTH_AGENT_EXEC_GRACE_MS: '1500',
      });
      const post = (body: unknown) =>
        fetch(`${server?.url}/v1/jobs?wait=true`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).then(async (r) => ({
          status: r.status,
          job: (await r.json()) as { status: string; result: Record<string, unknown> },
        }));
      const stuck = post({ language: 'bash', code: STOP_EVERYTHING, limits: { timeoutMs: 1500 } });
      const next = post({ language: 'bash', code: 'echo second' });
      const [a, b] = await Promise.all([stuck, next]);
      expect(a.status).toBe(200);
      expect(a.job.status).toBe('completed');
      expect(a.job.result).toMatchObject({ timedOut: true, stdout: 'before\n' });
      expect(b.job.status).toBe('completed');
      expect(b.job.result).toMatchObject({ exitCode: 0, stdout: 'second\n' });
      const languages = await fetch(`${server.url}/v1/languages`);
      expect(languages.status).toBe(200);
    });
  },
);

async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
