/**
 * The published E2B SDKs against hearth on bwrap: `commands.run('true')` and `runCode('1+1')` round
 * trips through `@e2b/code-interpreter`'s Sandbox (configured only by E2B_API_URL, E2B_SANDBOX_URL,
 * E2B_API_KEY), each paired with the same work through hearth's own HTTP API on the same server,
 * so the ratio is what the E2B surface costs (Connect framing, NDJSON, the SDK). The SDK's
 * `commands.run(cmd)` runs `/bin/bash -l -c cmd`, so the native command runs that argv too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox } from '@e2b/code-interpreter';
import type { Session } from '../src/api/sessions.js';
import { hearthPaths } from '../src/config/paths.js';
import { startServer } from '../src/server/start.js';
import { paired, pct, postJson as post, ratio, report } from './lib.js';

const G = 'e2b';
/** Issue 9's target: each E2B round trip within 1.5× hearth's native API. */
const TARGET_RATIO = 1.5;

export default async function e2b(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-e2b-'));
  const before = process.env.HEARTH_BACKEND;
  process.env.HEARTH_BACKEND = 'bwrap';
  const server = await startServer({
    port: 0,
    paths: { ...hearthPaths(), state: dir, db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') },
    logger: false,
    shutdownGraceMs: 0,
  }).finally(() => {
    if (before === undefined) delete process.env.HEARTH_BACKEND;
    else process.env.HEARTH_BACKEND = before;
  });
  const opts = { apiUrl: server.url, sandboxUrl: server.url, apiKey: 'bench' };
  const api = `${server.url}/v1/sessions`;
  const sbx = await Sandbox.create('base', opts);
  const native = await post<Session>(api, { image: 'default' });
  try {
    const compare = async (o: {
      name: string;
      viaE2b: () => Promise<unknown>;
      viaNative: () => Promise<unknown>;
      floor: string;
    }) => {
      const [own, theirs] = await paired(100, o.viaNative, o.viaE2b, 10);
      const r = theirs.p50 / own.p50;
      report({
        group: G,
        name: o.name,
        value: pct(theirs),
        ratio: ratio(theirs.p50, own.p50, `${o.floor} (paired)`),
        target: `≤ ${TARGET_RATIO}×`,
        met: r <= TARGET_RATIO,
      });
    };
    await compare({
      name: "bwrap: E2B SDK commands.run('true')",
      viaE2b: () => sbx.commands.run('true'),
      viaNative: () => post(`${api}/${native.id}/commands`, { argv: ['/bin/bash', '-l', '-c', 'true'] }),
      floor: 'POST /v1/sessions/:id/commands',
    });
    await compare({
      name: "bwrap: E2B SDK runCode('1+1')",
      viaE2b: () => sbx.runCode('1+1'),
      viaNative: () => post(`${api}/${native.id}/code`, { code: '1+1' }),
      floor: 'POST /v1/sessions/:id/code',
    });
  } finally {
    await sbx.kill().catch(() => {});
    await fetch(`${api}/${native.id}`, { method: 'DELETE' });
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
