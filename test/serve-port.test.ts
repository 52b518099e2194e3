/** `hearth serve` on a port something else holds: a clear error naming the port, not INTERNAL. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';
import { startServer } from '../src/server/start.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-serve-port-'));
let holder: Server | undefined;
afterAll(() => {
  holder?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('startServer', () => {
  test('a port already in use is refused with VALIDATION_FAILED and a hint, and the server can start elsewhere', async () => {
    const taken = createServer();
    holder = taken;
    const port = await new Promise<number>((resolve) =>
      taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)),
    );
    const paths = hearthPaths({ ...process.env, HEARTH_STATE_DIR: dir, HEARTH_RUN_DIR: '', HEARTH_DB: '' });
    await expect(startServer({ port, paths, logger: false })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: `127.0.0.1:${port} is already in use`,
      hint: expect.stringContaining('HEARTH_PORT'),
    });
    // The database it opened was closed again: the same state serves on a free port.
    const server = await startServer({ port: 0, paths, logger: false });
    try {
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  test('a HEARTH_WORKFLOW_SNAPSHOTS that is not every-step or none is refused before anything is opened', async () => {
    const state = join(dir, 'bad-snapshots');
    const saved = process.env.HEARTH_WORKFLOW_SNAPSHOTS;
    process.env.HEARTH_WORKFLOW_SNAPSHOTS = 'sometimes';
    try {
      const paths = hearthPaths({
        ...process.env,
        HEARTH_STATE_DIR: state,
        HEARTH_RUN_DIR: '',
        HEARTH_DB: '',
      });
      await expect(startServer({ port: 0, paths, logger: false })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        message: expect.stringContaining('HEARTH_WORKFLOW_SNAPSHOTS'),
      });
      expect(existsSync(paths.db)).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.HEARTH_WORKFLOW_SNAPSHOTS;
      else process.env.HEARTH_WORKFLOW_SNAPSHOTS = saved;
    }
  });
});
