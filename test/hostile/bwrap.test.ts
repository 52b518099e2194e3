/**
 * Hostile programs against real bwrap sandboxes, one-shot (`runOnce`) and agent (`create`): report
 * theft and forgery, a stopped shim, syscall and fd probes, /dev, memory split across processes, a
 * fork loop. After each: the host answers, the result is the honest one, and nothing is left.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { ExecLimits } from '../../src/agent/protocol.js';
import type { OneShotStepResult, Sandbox, SandboxSpec } from '../../src/backends/backend.js';
import { loadBackend } from '../../src/backends/registry.js';
import { hearthPaths } from '../../src/config/paths.js';
import { MemoryLedger } from '../../src/host/ledger.js';
import { startServer } from '../../src/server/start.js';
import { settledLeftovers } from '../leak-check.js';

const ledger = new MemoryLedger();
const backend = await loadBackend('bwrap', { ledger });
const probe = await backend.probe();
const spec: SandboxSpec = { image: 'default', memoryMb: 256, diskMb: 128, maxProcesses: 64 };

/** The issue's reproduction: take the shim's report socket with pidfd_getfd, write a broken line. */
const STEAL_REPORT =
  'import ctypes,os;l=ctypes.CDLL(None);fd=l.syscall(438,l.syscall(434,os.getppid(),0),3,0);os.write(fd,b\'{"exitCode":x\\n\')';

/** Every way a program could reach the report pipe, then a forged "exit 0" on each it got, then exit 3. */
const FORGE_EXIT_0 = `
import ctypes, os
l = ctypes.CDLL(None, use_errno=True)
forged = b'{"exitCode":0,"signal":null,"cpuTimeMs":1,"peakMemoryKb":2,"asLimitHit":false}\\n'
got = []
pidfd = l.syscall(434, os.getppid(), 0)
fd = l.syscall(438, pidfd, 3, 0) if pidfd >= 0 else -1
if fd >= 0: got.append(fd)
try: got.append(os.open('/proc/%d/fd/3' % os.getppid(), os.O_WRONLY))
except OSError: pass
for f in got:
  try: os.write(f, forged)
  except OSError: pass
print('reached the report:', len(got), flush=True)
x = bytearray(32 << 20)
for i in range(0, len(x), 4096): x[i] = 1
os._exit(3)
`;

/** Each probe: the syscall's result and errno, as `name rc errno`. */
const SYSCALL_PROBES = `
import ctypes, os
l = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(256)
def probe(name, nr, *args):
  ctypes.set_errno(0)
  rc = l.syscall(nr, *args)
  print(name, rc, ctypes.get_errno(), flush=True)
pp = os.getppid()
probe('ptrace', 101, 16, pp, 0, 0)
probe('pidfd_getfd', 438, l.syscall(434, pp, 0), 3, 0)
probe('process_vm_readv', 310, pp, buf, 1, buf, 1, 0)
probe('io_uring_setup', 425, 8, buf)
probe('keyctl', 250, 1, 0)
probe('add_key', 248, b'user', b'k', b'v', 1, -2)
probe('unshare_newuser', 272, 0x10000000)
probe('unshare_newns', 272, 0x00020000)
probe('clone_newuser', 56, 0x10000000 | 17, 0, 0, 0, 0)
probe('bpf', 321, 5, buf, 128)
probe('perf_event_open', 298, buf, 0, -1, -1, 0)
probe('userfaultfd', 323, 0)
probe('mount', 165, b'none', b'/tmp', b'tmpfs', 0, 0)
probe('setns', 308, 0, 0)
probe('personality', 135, 0x0040000)
`;

/** Which fds are open in the program, without opening one to look. */
const OPEN_FDS = `
import os
fds = []
for fd in range(4096):
  try: os.fstat(fd); fds.append(fd)
  except OSError: pass
print(fds)
`;

const DEV_PROBE = `
import os, errno
try: open('/dev/x', 'w'); print('dev writable')
except OSError as e: print('dev', errno.errorcode[e.errno])
try:
  with open('/dev/shm/big', 'wb') as f:
    for _ in range(512): f.write(b'x' * (1 << 20))
  print('shm took 512 MiB')
except OSError as e: print('shm', errno.errorcode[e.errno])
st = os.statvfs('/dev/shm'); print('shm bytes', st.f_blocks * st.f_frsize)
s = open('/proc/self/status').read()
print([l.split()[1] for l in s.split('\\n') if l.startswith(('NoNewPrivs:', 'Seccomp:'))])
`;

async function py(code: string, limits: ExecLimits = {}): Promise<OneShotStepResult> {
  if (!backend.runOnce) throw new Error('bwrap has no runOnce');
  const [r] = await backend.runOnce(spec, {
    files: [{ path: 'main.py', content: Buffer.from(code) }],
    steps: [{ argv: ['python3', 'main.py'], limits: { timeoutMs: 30_000, ...limits } }],
  });
  if (!r) throw new Error('no step result');
  return r;
}

/** Eight processes of 200 MB each, then how many held it to the end. */
const EIGHT_BY_200 = `
import os, time
kids = []
for _ in range(8):
  pid = os.fork()
  if pid == 0:
    b = b'x' * (200 << 20)
    time.sleep(2)
    os._exit(0)
  kids.append(pid)
ok = sum(1 for p in kids if os.waitpid(p, 0)[1] == 0)
print('survivors', ok, flush=True)
`;

const lines = (r: { stdout: Buffer }) => r.stdout.toString().trim().split('\n');

describe.skipIf(!probe.usable)(
  `hostile programs on bwrap${probe.usable ? '' : ` — skipped: ${probe.reason}`}`,
  () => {
    afterAll(async () => {
      await backend.close?.();
      expect(ledger.list()).toEqual([]);
      expect(await settledLeftovers()).toEqual([]);
    });

    describe('one-shot (runOnce)', () => {
      test("the issue's report theft: the server survives and the job's result is the program's own", async () => {
        const dir = mkdtempSync(join(tmpdir(), 'hearth-hostile-'));
        process.env.HEARTH_BACKEND = 'bwrap';
        const server = await startServer({
          port: 0,
          paths: { ...hearthPaths(), db: join(dir, 'hearth.db') },
          logger: false,
          shutdownGraceMs: 0,
        });
        try {
          const res = await fetch(`${server.url}/v1/jobs?wait=true`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ language: 'python', code: STEAL_REPORT }),
          });
          const job = (await res.json()) as { status: string; result?: { exitCode: number; stderr: string } };
          expect(res.status).toBe(200);
          expect(job.status).toBe('completed');
          // pidfd_getfd is refused, so os.write(-1) raises: the program's honest exit is 1.
          expect(job.result?.exitCode).toBe(1);
          expect(job.result?.stderr).toContain('Bad file descriptor');
          expect((await fetch(`${server.url}/health`)).status).toBe(200);
        } finally {
          await server.close();
          delete process.env.HEARTH_BACKEND;
          rmSync(dir, { recursive: true, force: true });
        }
      });

      test('a program that exits 3 after trying to forge "exit 0" is reported as exit 3, with the host figures', async () => {
        const r = await py(FORGE_EXIT_0);
        expect(r.stdout.toString()).toBe('reached the report: 0\n');
        expect(r.exitCode).toBe(3);
        expect(r.signal).toBeNull();
        // The cgroup saw the 32 MiB the program touched, not the forged 2 KiB.
        expect(r.peakMemoryKb).toBeGreaterThan(32 * 1024);
      });

      test('SIGSTOP of the shim and of bwrap init: the host deadline ends the step, output kept', async () => {
        const r = await py(
          'import os, signal, time\nprint("before", flush=True)\nos.kill(os.getppid(), signal.SIGSTOP)\ntry: os.kill(1, signal.SIGSTOP)\nexcept OSError: pass\ntime.sleep(3600)',
          { timeoutMs: 1000 },
        );
        expect(r.timedOut).toBe(true);
        expect(r.signal).toBe('SIGKILL');
        expect(r.stdout.toString()).toBe('before\n');
      });

      test('a program that SIGKILLs its shim gets SIGKILL, not a made-up status', async () => {
        const r = await py('import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos._exit(0)');
        expect(r.exitCode).toBeNull();
        expect(r.signal).toBe('SIGKILL');
      });

      test('ptrace, pidfd_getfd, io_uring, keyrings, namespaces, bpf, perf, userfaultfd, mount: each refused', async () => {
        const r = await py(SYSCALL_PROBES);
        expect(r.exitCode).toBe(0);
        const results = lines(r).map((l) => l.split(' '));
        expect(results.length).toBe(15);
        for (const [name, rc, errno] of results) {
          expect(rc, name).toBe('-1');
          expect(['1', '38'], `${name} errno ${errno}`).toContain(errno);
        }
      });

      test('only fds 0-2 reach the program; /dev is read-only, /dev/shm sized; no_new_privs and seccomp on', async () => {
        expect(lines(await py(OPEN_FDS))).toEqual(['[0, 1, 2]']);
        const dev = lines(await py(DEV_PROBE));
        expect(dev[0]).toBe('dev EROFS');
        expect(dev[1]).toBe('shm ENOSPC');
        expect(Number(dev[2]?.split(' ')[2])).toBeLessThanOrEqual(64 * 1024 * 1024);
        expect(dev[3]).toBe("['1', '2']");
      });
    });

    describe('agent sandboxes (create)', () => {
      async function withSandbox(s: SandboxSpec, fn: (sb: Sandbox) => Promise<void>): Promise<void> {
        const sb = await backend.create(s);
        try {
          await fn(sb);
        } finally {
          await sb.destroy();
        }
      }
      const run = (sb: Sandbox, code: string, limits: ExecLimits = {}) =>
        sb.agent.run({ argv: ['python3', '-c', code], limits: { timeoutMs: 30_000, ...limits } });

      test('the same fds, filter and /dev in an agent sandbox', async () => {
        await withSandbox(spec, async (sb) => {
          expect(lines(await run(sb, OPEN_FDS))).toEqual(['[0, 1, 2]']);
          const probes = lines(await run(sb, SYSCALL_PROBES)).map((l) => l.split(' '));
          expect(probes.length).toBe(15);
          for (const [name, rc, errno] of probes) {
            expect(rc, name).toBe('-1');
            expect(['1', '38'], `${name} errno ${errno}`).toContain(errno);
          }
          expect(lines(await run(sb, DEV_PROBE)).slice(0, 2)).toEqual(['dev EROFS', 'shm ENOSPC']);
        });
      });

      test('8 processes × 200 MB under a 256 MB sandbox are stopped; the agent still answers', async () => {
        await withSandbox({ ...spec, memoryMb: 256 }, async (sb) => {
          const r = await run(sb, EIGHT_BY_200);
          const survivors = /survivors (\d+)/.exec(r.stdout.toString());
          // Either the parent reports how many of its children held 200 MB to the end, or it was
          // itself among the processes the OOM killer took; never all eight.
          if (survivors) expect(Number(survivors[1])).toBeLessThan(2);
          else expect(r.signal).toBe('SIGKILL');
          expect((await run(sb, 'print("alive")')).stdout.toString()).toBe('alive\n');
        });
      });

      test('a sandbox made for a larger job (a pooled one) holds an exec to its own memory across processes', async () => {
        await withSandbox({ ...spec, memoryMb: 2048 }, async (sb) => {
          const r = await run(sb, EIGHT_BY_200, { memoryMb: 256 });
          expect(r.outOfMemory).toBe(true);
          const survivors = /survivors (\d+)/.exec(r.stdout.toString());
          if (survivors) expect(Number(survivors[1])).toBeLessThan(2);
          // The whole sandbox, agent included, stayed near the exec's limit plus the agent's room,
          // far below the 1.6 GB the eight processes asked for.
          expect(r.peakMemoryKb / 1024).toBeLessThan(256 + 64 + 1);
          // Between execs the sandbox has its own limit back: 600 MB in two processes fits.
          const big = await run(
            sb,
            "import os\nif os.fork() == 0:\n  b = b'x' * (300 << 20); os._exit(0)\nb = b'x' * (300 << 20)\nprint(os.wait()[1])",
          );
          expect(big.stdout.toString()).toBe('0\n');
          expect(big.outOfMemory).toBe(false);
        });
      });

      test("a fork loop fills the user's process budget, not the agent's: the agent keeps answering", async () => {
        await withSandbox({ ...spec, maxProcesses: 32 }, async (sb) => {
          const loop = run(
            sb,
            `
import os, time
n = 0
try:
  while True:
    if os.fork() == 0:
      time.sleep(3)
      os._exit(0)
    n += 1
except OSError as e:
  print('forked', n, e.errno, flush=True)
  time.sleep(1)
`,
          );
          await new Promise((r) => setTimeout(r, 500));
          expect(await sb.agent.ping()).toBeGreaterThanOrEqual(0);
          const r = await loop;
          const m = /forked (\d+) (\d+)/.exec(r.stdout.toString());
          expect(m?.[2]).toBe('11'); // EAGAIN
          // The python process itself is one of the user's 32.
          expect(Number(m?.[1])).toBeGreaterThanOrEqual(31);
          expect((await run(sb, 'print("alive")')).stdout.toString()).toBe('alive\n');
        });
      });
    });
  },
);
