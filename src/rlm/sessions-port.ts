import type { GuestCallHandler } from '../agent/guest-calls.js';
import type { SessionsApi } from '../api/sessions-api.js';

/**
 * What the RLM loop needs of sessions: a part of SessionsApi, so the in-process SessionService
 * and the SDK's SessionsClient both serve. Only a service in this process can answer the
 * sandbox's own llm_query calls (`setGuestCallHandler`); without it the model uses QUERY_LLM.
 */
export interface RlmSessions
  extends Pick<
    SessionsApi,
    | 'createSession'
    | 'deleteSession'
    | 'runCode'
    | 'runCommand'
    | 'writeFile'
    | 'makeDir'
    | 'createSnapshot'
    | 'restoreSnapshot'
  > {
  setGuestCallHandler?(sessionId: string, handler: GuestCallHandler | undefined): void;
}
