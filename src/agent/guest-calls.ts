/**
 * Calls from inside a sandbox to the host: `llm_query`, `llm_query_batched` and `rlm_query` in an
 * interpreter context reach the host over the agent's framed channel (a guest `call`, answered by
 * a host `call-result`; see protocol.ts). What a call carries is checked here, as everything from
 * the guest is: a call of the wrong shape or size is answered with an error and goes no further.
 */
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType } from '@sinclair/typebox/errors';

export type GuestCall =
  | { method: 'llm_query'; prompt: string; model?: string }
  | { method: 'llm_query_batched'; prompts: string[]; model?: string }
  | { method: 'rlm_query'; prompt: string; context?: string };

/** Answers one call from inside a sandbox; what it throws reaches the guest as an error (message only). */
export type GuestCallHandler = (call: GuestCall, signal: AbortSignal) => Promise<string | string[]>;

export type GuestCallMethod = GuestCall['method'];

/** The caps of calls and their answers, shared by the guest agent and the host. */
export const GUEST_CALL_LIMITS = {
  /** Characters in one prompt (or an rlm_query's context). */
  maxPromptChars: 1024 * 1024,
  /** Prompts in one llm_query_batched call. */
  maxBatchPrompts: 256,
  /** Characters of all a call's prompts together (it must fit one frame, with JSON's escapes). */
  maxCallChars: 2 * 1024 * 1024,
  /** Characters of one answer, and of all a batch's answers together. */
  maxAnswerChars: 2 * 1024 * 1024,
  /** Calls one sandbox may have waiting on the host at once; more are refused. */
  maxConcurrentCalls: 16,
  /** Characters of a model name. */
  maxModelChars: 256,
  /** Characters of an error message sent back to the guest. */
  maxErrorChars: 4096,
} as const;

const L = GUEST_CALL_LIMITS;
const Prompt = Type.String({ maxLength: L.maxPromptChars });
const Model = Type.Optional(Type.String({ minLength: 1, maxLength: L.maxModelChars }));
const strict = { additionalProperties: false } as const;

const PARAMS = {
  llm_query: TypeCompiler.Compile(Type.Object({ prompt: Prompt, model: Model }, strict)),
  llm_query_batched: TypeCompiler.Compile(
    Type.Object({ prompts: Type.Array(Prompt, { maxItems: L.maxBatchPrompts }), model: Model }, strict),
  ),
  rlm_query: TypeCompiler.Compile(Type.Object({ prompt: Prompt, context: Type.Optional(Prompt) }, strict)),
} as const;

/** The capability the agent announces in `hello` and the host in its own `hello`. */
export const GUEST_CALLS_CAPABILITY = 'guest-calls';

/** What a call gets when no model is attached to the sandbox (no handler, or a host without calls). */
export const NO_HANDLER_MESSAGE =
  'no model is attached to this session: llm_query, llm_query_batched and rlm_query are available only during an RLM run';

/** A call refused before it reached a handler: `message` goes back to the guest. */
export class GuestCallRefused extends Error {}

/** Checks a guest's `method` and `params`; throws GuestCallRefused saying what is wrong. */
export function parseGuestCall(method: unknown, params: unknown): GuestCall {
  const checker =
    typeof method === 'string' && Object.hasOwn(PARAMS, method)
      ? PARAMS[method as GuestCallMethod]
      : undefined;
  if (!checker) throw new GuestCallRefused(`unknown method ${JSON.stringify(String(method).slice(0, 64))}`);
  if (!checker.Check(params)) {
    const e = checker.Errors(params).First();
    const tooLong = e?.type === ValueErrorType.StringMaxLength && e.schema.maxLength === L.maxPromptChars;
    throw new GuestCallRefused(
      tooLong
        ? `${method}: a prompt is over ${L.maxPromptChars} characters`
        : `${method}: bad arguments (${e ? `${e.path || '/'}: ${e.message}` : 'wrong shape'})`,
    );
  }
  const call = { method, ...(params as object) } as GuestCall;
  const chars =
    call.method === 'llm_query_batched'
      ? call.prompts.reduce((n, p) => n + p.length, 0)
      : call.prompt.length + (call.method === 'rlm_query' ? (call.context?.length ?? 0) : 0);
  if (chars > L.maxCallChars)
    throw new GuestCallRefused(`${method}: the prompts are over ${L.maxCallChars} characters together`);
  return call;
}

/** Checks a handler's answer for `call`; throws GuestCallRefused when it is not one the guest can take. */
export function checkCallAnswer(call: GuestCall, answer: unknown): string | string[] {
  if (call.method === 'llm_query_batched') {
    if (!Array.isArray(answer) || !answer.every((a) => typeof a === 'string'))
      throw new GuestCallRefused('llm_query_batched: the handler did not answer a list of strings');
    if (answer.length !== call.prompts.length)
      throw new GuestCallRefused(
        `llm_query_batched: the handler answered ${answer.length} strings for ${call.prompts.length} prompts`,
      );
    const chars = answer.reduce((n, a) => n + a.length, 0);
    if (chars > L.maxAnswerChars)
      throw new GuestCallRefused(`llm_query_batched: the answers are over ${L.maxAnswerChars} characters`);
    return answer as string[];
  }
  if (typeof answer !== 'string')
    throw new GuestCallRefused(`${call.method}: the handler did not answer a string`);
  if (answer.length > L.maxAnswerChars)
    throw new GuestCallRefused(`${call.method}: the answer is over ${L.maxAnswerChars} characters`);
  return answer;
}
