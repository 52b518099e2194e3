/**
 * Chat completions on any OpenAI-compatible endpoint, through the `openai` package. Retries are
 * the package's own: it retries connection errors, 408, 409, 429 and 5xx with exponential backoff
 * (honouring Retry-After) up to `maxRetries` times; what still fails becomes RLM_MODEL_FAILED.
 */
import OpenAI from 'openai';
import { HearthError } from '../errors/hearth-error.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Completion {
  text: string;
  tokensIn: number;
  tokensOut: number;
}

/** What the loop needs of a model: one completion, abortable. */
export interface LlmPort {
  complete(o: { model: string; messages: ChatMessage[]; signal?: AbortSignal }): Promise<Completion>;
}

export interface LlmClientOptions {
  baseUrl?: string;
  apiKey?: string;
  /** Retries of a call after a 429, a 5xx or a lost connection. @default 3 */
  maxRetries?: number;
  /** One attempt. @default 120000 */
  timeoutMs?: number;
}

/** Characters of a model answer kept: a model is outside hearth, and its answers are bounded too. */
const MAX_ANSWER_CHARS = 1024 * 1024;

export class LlmClient implements LlmPort {
  readonly #client: OpenAI;
  readonly #where: string;

  constructor(o: LlmClientOptions = {}) {
    this.#where = o.baseUrl ?? 'https://api.openai.com/v1';
    this.#client = new OpenAI({
      baseURL: this.#where,
      // The package refuses to start without a key; a local endpoint does not need one.
      apiKey: o.apiKey ?? 'none',
      maxRetries: o.maxRetries ?? 3,
      timeout: o.timeoutMs ?? 120_000,
    });
  }

  async complete(o: { model: string; messages: ChatMessage[]; signal?: AbortSignal }): Promise<Completion> {
    try {
      const r = await this.#client.chat.completions.create(
        { model: o.model, messages: o.messages },
        o.signal ? { signal: o.signal } : {},
      );
      const content = r.choices?.[0]?.message?.content;
      const text = typeof content === 'string' ? content.slice(0, MAX_ANSWER_CHARS) : '';
      return {
        text,
        tokensIn: count(r.usage?.prompt_tokens),
        tokensOut: count(r.usage?.completion_tokens),
      };
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason ?? err;
      throw new HearthError('RLM_MODEL_FAILED', `model ${o.model} at ${this.#where}: ${describe(err)}`, {
        cause: err,
      });
    }
  }
}

const count = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.floor(n) : 0);

function describe(err: unknown): string {
  if (err instanceof OpenAI.APIConnectionError) return `could not be reached (${err.message})`;
  if (err instanceof OpenAI.APIError)
    return `answered ${err.status ?? '?'}: ${String(err.message).slice(0, 300)}`;
  return String((err as Error)?.message ?? err).slice(0, 300);
}
