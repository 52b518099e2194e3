import { describe, expect, test } from 'vitest';
import type { OneShotRequest, OneShotStepResult } from '../../src/backends/backend.js';
import type { ConformanceContext } from './cases.js';
import { connectPy, loopbackServer } from './isolation-cases.js';

const file = (path: string, text: string, mode?: number) => ({ path, content: Buffer.from(text), mode });

/** The core cases again, through the one-shot path (a fresh sandbox per call, no agent). */
export function defineRunOnceCases({ backend, ledger, spec }: ConformanceContext): void {
  const runOnce = (req: OneShotRequest): Promise<OneShotStepResult[]> => {
    if (!backend.runOnce) throw new Error('no runOnce');
    return backend.runOnce(spec, req);
  };

  describe('runOnce', () => {
    test('exit code, stdout and stderr apart, stdin, files', async () => {
      const chunks: string[] = [];
      const [r, ...rest] = await runOnce({
        files: [
          file(
            'main.py',
            'import sys\nprint(sys.stdin.read().upper())\nprint("err", file=sys.stderr)\nsys.exit(5)',
          ),
        ],
        steps: [{ argv: ['python3', 'main.py'], stdin: Buffer.from('piped'), env: { EXTRA: 'x' } }],
        onOutput: (step, stream, c) => chunks.push(`${step}:${stream}:${c.toString()}`),
      });
      expect(rest).toEqual([]);
      expect(r?.exitCode).toBe(5);
      expect(r?.stdout.toString()).toBe('PIPED\n');
      expect(r?.stderr.toString()).toBe('err\n');
      expect(chunks.join('')).toContain('0:stdout:PIPED');
      expect(ledger.list()).toEqual([]);
      const [env] = await runOnce({
        files: [],
        steps: [{ argv: ['sh', '-c', 'echo $HEARTH_CONFORMANCE $EXTRA $HOME'], env: { EXTRA: 'x' } }],
      });
      expect(env?.stdout.toString()).toBe('yes x /home/user\n');
    });

    test('steps share the work dir; a failing step ends the run', async () => {
      const ok = await runOnce({
        files: [
          file('src/build.sh', 'printf "#!/bin/sh\\necho built-and-ran\\n" > prog && chmod +x prog', 0o755),
        ],
        steps: [{ argv: ['sh', 'src/build.sh'] }, { argv: ['./prog'] }],
      });
      expect(ok.map((r) => r.exitCode)).toEqual([0, 0]);
      expect(ok[1]?.stdout.toString()).toBe('built-and-ran\n');
      const failed = await runOnce({
        files: [],
        steps: [{ argv: ['sh', '-c', 'echo nope >&2; exit 2'] }, { argv: ['true'] }],
      });
      expect(failed.length).toBe(1);
      expect(failed[0]?.exitCode).toBe(2);
    });

    test('binary output is byte-exact; output past the cap is cut exactly, flagged', async () => {
      const [bin] = await runOnce({
        files: [],
        steps: [{ argv: ['python3', '-c', 'import sys; sys.stdout.buffer.write(bytes(range(256)))'] }],
      });
      expect(bin?.stdout.equals(Buffer.from(Array.from({ length: 256 }, (_, i) => i)))).toBe(true);
      const [cut] = await runOnce({
        files: [],
        steps: [
          {
            argv: ['python3', '-c', `import sys; sys.stdout.write('y' * ${10 * 1024 * 1024})`],
            limits: { maxOutputBytes: 65_537 },
          },
        ],
      });
      expect(cut?.truncated).toBe(true);
      expect(cut?.stdout.length).toBe(65_537);
    });

    test('a timeout kills the tree and keeps the partial output', async () => {
      const [r] = await runOnce({
        files: [],
        steps: [
          { argv: ['sh', '-c', 'echo partial; setsid sleep 4646 & sleep 4747'], limits: { timeoutMs: 800 } },
        ],
      });
      expect(r?.timedOut).toBe(true);
      expect(r?.stdout.toString()).toBe('partial\n');
      expect(ledger.list()).toEqual([]);
    });

    test('cancelling through the signal kills the run and frees it', async () => {
      const ac = new AbortController();
      const started = performance.now();
      setTimeout(() => ac.abort(), 300);
      await expect(
        runOnce({
          files: [],
          steps: [{ argv: ['sleep', '4848'], limits: { timeoutMs: 30_000 } }],
          signal: ac.signal,
        }),
      ).rejects.toMatchObject({ code: 'CANCELLED' });
      expect(performance.now() - started).toBeLessThan(20_000);
      expect(ledger.list()).toEqual([]);
    });

    test('the memory limit ends in a clear out-of-memory result', async () => {
      const [r] = await runOnce({
        files: [],
        steps: [
          {
            argv: ['python3', '-c', 'x = bytearray(400 * 1024 * 1024)'],
            limits: { memoryMb: 128, timeoutMs: 20_000 },
          },
        ],
      });
      expect(r?.outOfMemory).toBe(true);
      expect(r?.exitCode).not.toBe(0);
    });

    test("no network, not even the host's loopback", async () => {
      const host = await loopbackServer();
      try {
        const [r] = await runOnce({
          files: [],
          steps: [{ argv: ['python3', '-c', connectPy('127.0.0.1', host.port)] }],
        });
        expect(r?.stdout.toString().trim()).not.toBe('connected');
        expect(host.connections()).toBe(0);
      } finally {
        await new Promise((resolve) => host.server.close(resolve));
      }
    });

    test('bad input gets a HearthError, not a crash', async () => {
      await expect(
        runOnce({ files: [file('../escape.py', 'x')], steps: [{ argv: ['true'] }] }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      await expect(runOnce({ files: [], steps: [] })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      await expect(
        backend.runOnce?.({ ...spec, image: 'nope' }, { files: [], steps: [{ argv: ['true'] }] }),
      ).rejects.toMatchObject({ code: 'UNKNOWN_IMAGE' });
      await expect(
        backend.runOnce?.({ ...spec, memoryMb: -1 }, { files: [], steps: [{ argv: ['true'] }] }),
      ).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
      expect(ledger.list()).toEqual([]);
      const [missing] = await runOnce({ files: [], steps: [{ argv: ['no-such-program'] }] });
      expect(missing?.exitCode).toBe(127);
    });
  });
}
