/**
 * An RLM runner as the server puts it together — the real SessionService on bwrap, SQLite records,
 * the LearningService's validator — driving the stand-in model server (rlm-standin.ts).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RlmBudgets, RlmRun } from '../src/api/rlm.js';
import { hearthPaths } from '../src/config/paths.js';
import { LearningService } from '../src/learning/service.js';
import { budgetsFrom } from '../src/rlm/budgets.js';
import { LlmClient } from '../src/rlm/llm-client.js';
import { type RlmEvents, type RlmRunInput, RlmRunner } from '../src/rlm/runner.js';
import { RlmService } from '../src/rlm/service.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { ModelStandin, type StandinOptions } from './rlm-standin.js';
import { openSessionService } from './session-service-fixture.js';

export async function openRlm(backend = 'bwrap') {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-rlm-'));
  const paths = { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') };
  const svc = await openSessionService(paths, backend);
  const store = await SqliteStore.open({ path: join(dir, 'rlm.db') });
  const learning = new LearningService({ store: store.learning });
  await learning.start();
  const standins: ModelStandin[] = [];

  return {
    sessions: svc.sessions,
    /** Where the sessions' snapshot files go: empty once every run has ended. */
    snapshotFiles: () => (existsSync(paths.snapshots) ? readdirSync(paths.snapshots) : []),
    store,
    /** A runner on a fresh stand-in whose root model follows `root`. */
    async runner(o: StandinOptions) {
      const standin = await ModelStandin.start(o);
      standins.push(standin);
      const runner = new RlmRunner({
        sessions: svc.sessions,
        llm: new LlmClient({ baseUrl: standin.url, maxRetries: 2 }),
        store: store.rlm,
        validator: learning,
      });
      const run = (
        query: string,
        x: {
          context?: unknown;
          budgets?: RlmBudgets;
          strictness?: RlmRunInput['strictness'];
          events?: RlmEvents;
          signal?: AbortSignal;
        } = {},
      ): Promise<RlmRun> =>
        runner.run(
          {
            query,
            source:
              typeof x.context === 'string'
                ? { kind: 'text', text: x.context }
                : { kind: 'json', value: x.context ?? '' },
            rootModel: 'root-model',
            subModel: 'sub-model',
            budgets: budgetsFrom(x.budgets),
            backend,
            ...(x.strictness ? { strictness: x.strictness } : {}),
          },
          { ...(x.events ? { events: x.events } : {}), ...(x.signal ? { signal: x.signal } : {}) },
        );
      return { standin, runner, run };
    },
    /** An RlmService (as the server builds it) on a fresh stand-in; root-model and sub-model are its defaults. */
    async service(o: StandinOptions & { contextDir?: string }) {
      const standin = await ModelStandin.start(o);
      standins.push(standin);
      const service = new RlmService({
        sessions: svc.sessions,
        store: store.rlm,
        config: {
          baseUrl: standin.url,
          model: 'root-model',
          subModel: 'sub-model',
          ...(o.contextDir ? { contextDir: o.contextDir } : {}),
        },
        validator: learning,
      });
      return { standin, service };
    },
    /** Sessions still open (every run must leave none). */
    async openSessions() {
      return (await svc.sessions.listSessions()).filter((s) => s.state !== 'ended');
    },
    async close() {
      for (const s of standins) await s.close().catch(() => {});
      await learning.close();
      await store.close();
      await svc.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A ```python block, as a model writes it. */
export const py = (code: string) => `Let me run this.\n\`\`\`python\n${code}\n\`\`\``;
