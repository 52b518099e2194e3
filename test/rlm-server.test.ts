/**
 * RLM against a real `hearth serve` (bwrap) whose model server is the stand-in: POST /v1/rlm/runs on
 * the server as start.ts wires it (the sandbox's llm_query answered by the server), and the loop in
 * this process driving the server's sessions through the SDK's SessionsClient — where the sandbox's
 * own llm_query cannot reach this process, so the model is told to use QUERY_LLM instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RlmRun } from '../src/api/rlm.js';
import { budgetsFrom } from '../src/rlm/budgets.js';
import { LlmClient } from '../src/rlm/llm-client.js';
import { RlmRunner } from '../src/rlm/runner.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { py } from './rlm-fixture.js';
import { ModelStandin, type Msg } from './rlm-standin.js';
import { type SessionServer, startSessionServer } from './session-server-fixture.js';

let server: SessionServer;
let standin: ModelStandin;
/** The root model's answer; the conversation's length says which step it is. */
let script: (conv: Msg[]) => string = () => 'FINAL(unset)';
const first = (conv: Msg[]) => conv.length <= 2;

beforeAll(async () => {
  standin = await ModelStandin.start({ root: (conv) => script(conv) });
  server = await startSessionServer({
    OPENAI_BASE_URL: standin.url,
    HEARTH_RLM_MODEL: 'root-model',
    HEARTH_RLM_SUB_MODEL: 'sub-model',
  });
}, 120_000);
afterAll(async () => {
  const left = await server?.close();
  await standin?.close();
  expect(left).toEqual([]);
});

describe('rlm with hearth serve', () => {
  it('POST /v1/rlm/runs runs on the server, llm_query_batched answered there', async () => {
    script = (conv) =>
      first(conv)
        ? py('parts = llm_query_batched(["FIND b\\n" + context, "FIND z\\n" + context])\nprint(parts)')
        : 'FINAL_VAR(parts)';
    const res = await fetch(`${server.url}/v1/rlm/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
      body: JSON.stringify({ query: 'find', context: 'a\nb\nc' }),
    });
    expect(res.status).toBe(200);
    const run = (await res.json()) as RlmRun;
    expect(run.stopReason).toBe('final');
    expect(run.answer).toBe("['b', 'NONE']");
    expect(run.steps[0]?.subCalls).toBe(2);
    expect((await server.client.listSessions()).filter((s) => s.state !== 'ended')).toEqual([]);
    const doc = (await (
      await fetch(`${server.url}/openapi.json`, { headers: { authorization: `Bearer ${server.token}` } })
    ).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/rlm/runs', '/v1/rlm/runs/{id}']));
  });

  it('the loop drives the server’s sessions through the SDK client', async () => {
    const seen: string[] = [];
    script = (conv) => {
      seen.push(conv[0]?.content ?? '');
      return first(conv) ? `${py('n = len(context)\nprint(n)')}\nQUERY_LLM("hi")` : 'FINAL_VAR(n)';
    };
    const dir = mkdtempSync(join(tmpdir(), 'hearth-rlm-sdk-'));
    const store = await SqliteStore.open({ path: join(dir, 'r.db') });
    try {
      const runner = new RlmRunner({
        sessions: server.client,
        llm: new LlmClient({ baseUrl: standin.url }),
        store: store.rlm,
      });
      const run = await runner.run({
        query: 'length',
        source: { kind: 'text', text: 'x'.repeat(12345) },
        rootModel: 'root-model',
        subModel: 'sub-model',
        budgets: budgetsFrom(),
      });
      expect(run.stopReason).toBe('final');
      expect(run.answer).toBe('12345');
      expect(run.steps[0]?.output).toBe('12345\n\necho: hi');
      expect(seen.at(-1)).toContain('use QUERY_LLM commands instead');
      expect((await server.client.listSessions()).filter((s) => s.state !== 'ended')).toEqual([]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
