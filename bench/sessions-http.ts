/**
 * bwrap sessions over HTTP: a real server on port 0 (src/server/start.ts, as `hearth serve` runs in
 * process), each figure measured alternately with the same call to an in-process SessionService, so
 * the ratio is what the API (Fastify, JSON, schema validation, loopback TCP) adds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Session } from '../src/api/sessions.js';
import { hearthPaths } from '../src/config/paths.js';
import { startServer } from '../src/server/start.js';
import { paired, pct, postJson as post, ratio, report } from './lib.js';
import { sessionHarness } from './session-harness.js';

const G = 'sessions';

export default async function sessionsHttp(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-sessions-http-'));
  const before = process.env.HEARTH_BACKEND;
  process.env.HEARTH_BACKEND = 'bwrap';
  const server = await startServer({
    port: 0,
    paths: { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') },
    logger: false,
    shutdownGraceMs: 0,
  }).finally(() => {
    if (before === undefined) delete process.env.HEARTH_BACKEND;
    else process.env.HEARTH_BACKEND = before;
  });
  const h = await sessionHarness('bwrap');
  const pool = server.service.manager.pool;
  const api = `${server.url}/v1/sessions`;
  try {
    const viaHttp = async () => {
      // The server's pool refills in the background: wait for it, untimed.
      for (let i = 0; i < 12_000 && pool.readyCount < 1; i++) await new Promise((r) => setTimeout(r, 5));
      const t = performance.now();
      const s = await post<Session>(api, {});
      await post(`${api}/${s.id}/commands`, { argv: ['true'] });
      const took = performance.now() - t;
      await fetch(`${api}/${s.id}`, { method: 'DELETE' });
      return took;
    };
    const inProcess = async () => {
      await h.poolReady();
      const t = performance.now();
      const s = await h.service.createSession({});
      await h.service.runCommand(s.id, { argv: ['true'] });
      const took = performance.now() - t;
      await h.service.deleteSession(s.id);
      return took;
    };
    const [own, http] = await paired(15, inProcess, viaHttp);
    report({
      group: G,
      name: 'bwrap over HTTP: create → first command, pool warm',
      value: pct(http),
      ratio: ratio(http.p50, own.p50, 'in-process (paired)'),
      target: '≤ 50 ms',
      met: http.p50 <= 50,
    });

    const s = await post<Session>(api, {});
    const mine = await h.service.createSession({});
    try {
      // What the HTTP stack itself costs (client included: it shares this process): a session
      // route that does no sandbox work, against the same call in process.
      const [ownGet, httpGet] = await paired(
        100,
        () => h.service.getSession(mine.id),
        async () => (await fetch(`${api}/${s.id}`)).json(),
        5,
      );
      report({
        group: G,
        name: 'bwrap over HTTP: floor: GET /v1/sessions/:id',
        value: pct(httpGet),
        ratio: `in process ${pct(ownGet)}`,
      });
      const [ownCmd, httpCmd] = await paired(
        100,
        () => h.service.runCommand(mine.id, { argv: ['true'] }),
        () => post(`${api}/${s.id}/commands`, { argv: ['true'] }),
        5,
      );
      report({
        group: G,
        name: 'bwrap over HTTP: command round trip (true)',
        value: pct(httpCmd),
        ratio: `${ratio(httpCmd.p50, ownCmd.p50, 'in-process (paired)')}, ${ratio(httpCmd.p50, httpGet.p50, 'GET')}`,
        target: '≤ 3.00 ms',
        met: httpCmd.p50 <= 3,
      });
      const [ownCode, httpCode] = await paired(
        100,
        () => h.service.runCode(mine.id, { code: '1+1' }),
        () => post(`${api}/${s.id}/code`, { code: '1+1' }),
        5,
      );
      report({
        group: G,
        name: 'bwrap over HTTP: runCode round trip (1+1)',
        value: pct(httpCode),
        ratio: `${ratio(httpCode.p50, ownCode.p50, 'in-process (paired)')}, ${ratio(httpCode.p50, httpGet.p50, 'GET')}`,
        target: '≤ 3.00 ms',
        met: httpCode.p50 <= 3,
      });
    } finally {
      await fetch(`${api}/${s.id}`, { method: 'DELETE' });
    }
  } finally {
    await h.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
