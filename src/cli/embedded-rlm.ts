import { hearthPaths } from '../config/paths.js';
import { LearningService, learningConfig } from '../learning/service.js';
import { rlmConfig } from '../rlm/config.js';
import { RlmService } from '../rlm/service.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { type EmbeddedSessions, openEmbeddedSessions } from './embedded-sessions.js';

export interface EmbeddedRlm {
  sessions: EmbeddedSessions;
  rlm: RlmService;
  /** Ends the sessions (sandboxes and snapshots freed), then the thesaurus and the store. Idempotent. */
  close(): Promise<void>;
}

/**
 * RLM runs in this process, for `hearth rlm` and `hearth mcp` without a server: sessions as
 * openEmbeddedSessions makes them, the runs recorded in the state database (for rlm_status and later
 * reads), code checked against the thesaurus at its configured strictness.
 */
export async function openEmbeddedRlm(o: {
  onWarning: (obj: object, msg: string) => void;
  /** Whether `contextFile` may name any file this user can read (the CLI's own user asks). */
  anyContextFile: boolean;
}): Promise<EmbeddedRlm> {
  const store = await SqliteStore.open({ path: hearthPaths().db });
  const learning = new LearningService({ store: store.learning, config: learningConfig() });
  let sessions: EmbeddedSessions | undefined;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await sessions?.close();
      await learning.close();
      await store.close();
    })());
  try {
    sessions = await openEmbeddedSessions({ onWarning: o.onWarning });
    await learning.start();
  } catch (err) {
    await close();
    throw err;
  }
  const rlm = new RlmService({
    sessions: sessions.api,
    store: store.rlm,
    config: rlmConfig(),
    validator: learning,
    anyContextFile: o.anyContextFile,
    ...(learning.config.defaultStrictness ? { defaultStrictness: learning.config.defaultStrictness } : {}),
    onWarning: o.onWarning,
  });
  return { sessions, rlm, close };
}
