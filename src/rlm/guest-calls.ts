/** The calls code in a session's REPL makes to the host (llm_query …); the agent's bridge carries them. */
export type GuestCall =
  | { method: 'llm_query'; prompt: string; model?: string }
  | { method: 'llm_query_batched'; prompts: string[]; model?: string }
  | { method: 'rlm_query'; prompt: string; context?: string };
export type GuestCallHandler = (call: GuestCall, signal: AbortSignal) => Promise<string | string[]>;
