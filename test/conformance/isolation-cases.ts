import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { HearthError } from '../../src/errors/hearth-error.js';
import type { ConformanceContext } from './cases.js';

/** Counts the host's processes (numeric entries of /proc). */
export function hostProcessCount(): number {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).length;
}

/** A real TCP server on the host's loopback that counts the connections it gets. */
export async function loopbackServer(): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((s) => {
    connections++;
    s.end('host secret\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, connections: () => connections };
}

/** Python that tries a TCP connection and prints `connected` or the error's class. */
export const connectPy = (host: string, port: number) =>
  `import socket\ns = socket.socket()\ns.settimeout(3)\ntry:\n  s.connect((${JSON.stringify(host)}, ${port}))\n  print('connected')\nexcept OSError as e:\n  print(type(e).__name__)`;

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HearthError);
  expect((err as HearthError).code).toBe(code);
}

/** What a sandbox must not reach, and what it must not take down. */
export function defineIsolationCases({ sandboxTest: test, spec }: ConformanceContext): void {
  describe('isolation', () => {
    let host: Awaited<ReturnType<typeof loopbackServer>>;
    const marker = `/var/tmp/hearth-conformance-${randomBytes(6).toString('hex')}`;
    beforeAll(async () => {
      host = await loopbackServer();
      writeFileSync(marker, 'host only\n');
    });
    afterAll(async () => {
      rmSync(marker, { force: true });
      await new Promise((resolve) => host.server.close(resolve));
    });

    test('a fork bomb is contained: the sandbox and the host survive', async ({ sandbox }) => {
      const before = hostProcessCount();
      const bomb = 'import os\nwhile True:\n  try:\n    os.fork()\n  except OSError:\n    pass';
      const r = await sandbox.agent.run({
        argv: ['python3', '-c', bomb],
        limits: { timeoutMs: 3000, maxProcesses: 64 },
      });
      expect(r.timedOut).toBe(true);
      const alive = await sandbox.agent.run({ argv: ['echo', 'alive'] });
      expect(alive.stdout.toString()).toBe('alive\n');
      // Other work shares this host, and gVisor's ptrace platform keeps a pool of host stub
      // processes per sandbox (freed with it), so allow drift; an uncontained bomb makes thousands.
      expect(hostProcessCount()).toBeLessThan(before + 256);
    });

    test('filling the disk is contained by the work dir size', async ({ sandbox }) => {
      const r = await sandbox.agent.run({
        argv: ['sh', '-c', 'dd if=/dev/zero of=/work/fill bs=1M count=100000 2>&1; echo rc=$?'],
        limits: { timeoutMs: 30_000 },
      });
      expect(r.stdout.toString()).toMatch(/No space left on device/);
      const st = await sandbox.agent.stat('fill');
      expect(st.size).toBeLessThanOrEqual((spec.diskMb ?? 64) * 1024 * 1024);
      await sandbox.agent.remove('fill');
    });

    test("no network: not even the host's 127.0.0.1 ports", async ({ sandbox }) => {
      const lo = await sandbox.agent.run({ argv: ['python3', '-c', connectPy('127.0.0.1', host.port)] });
      expect(lo.stdout.toString().trim()).not.toBe('connected');
      const out = await sandbox.agent.run({ argv: ['python3', '-c', connectPy('1.1.1.1', 80)] });
      expect(out.stdout.toString().trim()).not.toBe('connected');
      expect(host.connections()).toBe(0);
    });

    test('host files and processes are invisible', async ({ sandbox }) => {
      // Kernel threads (a VM guest has its own few dozen) have an empty cmdline: only user
      // processes are counted.
      const r = await sandbox.agent.run({
        argv: [
          'python3',
          '-c',
          `import os\ndef user(p):\n  try:\n    return open('/proc/'+p+'/cmdline','rb').read() != b''\n  except OSError:\n    return False\nprint(os.path.exists(${JSON.stringify(marker)}))\nprint(sum(1 for p in os.listdir('/proc') if p.isdigit() and user(p)))`,
        ],
      });
      const [exists, count] = r.stdout.toString().trim().split('\n');
      expect(exists).toBe('False');
      // The sandbox sees its own few processes, never the host's hundreds.
      expect(Number(count)).toBeGreaterThan(0);
      expect(Number(count)).toBeLessThan(20);
      expect(Number(count)).toBeLessThan(hostProcessCount());
    });

    test('file API escapes are refused', async ({ sandbox }) => {
      await expectCode(sandbox.agent.readFile('../../etc/passwd'), 'PATH_ESCAPE');
      await expectCode(sandbox.agent.readFile('/etc/passwd'), 'PATH_ESCAPE');
      await expectCode(sandbox.agent.writeFile('/etc/evil', 'x'), 'PATH_ESCAPE');
      await sandbox.agent.run({ argv: ['ln', '-s', '/etc', 'etc-link'] });
      await expectCode(sandbox.agent.readFile('etc-link/passwd'), 'PATH_ESCAPE');
      await sandbox.agent.writeFile('inside.txt', 'fine');
      expect((await sandbox.agent.readFile('inside.txt')).toString()).toBe('fine');
    });
  });
}
