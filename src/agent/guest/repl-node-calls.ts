/**
 * The host calls of the JavaScript context: `llm_query(prompt, model?)`, `llm_query_batched(prompts,
 * model?)` and `rlm_query(prompt, context?)`, each returning a Promise (top-level `await` works in
 * the context). A call is a line on fd 4; its answer arrives on fd 3 and is handed to `onAnswer`.
 * Arguments are checked here first so that an oversize prompt never crosses the pipe.
 */

interface CallsOptions {
  /** The agent's caps (HEARTH_REPL_CAPS): promptChars, callChars, batchPrompts. */
  caps: Record<string, number>;
  /** Writes one line (an object) on fd 4. */
  write(line: object): void;
}

interface Waiting {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export function installCalls(
  sandbox: Record<string, unknown>,
  opts: CallsOptions,
): { onAnswer(msg: Record<string, unknown>): void } {
  const promptChars = opts.caps.promptChars ?? 1024 * 1024;
  const callChars = opts.caps.callChars ?? 2 * 1024 * 1024;
  const batchPrompts = opts.caps.batchPrompts ?? 256;
  const waiting = new Map<number, Waiting>();
  let next = 1;

  const call = (method: string, params: Record<string, unknown>): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve, reject });
      opts.write({ call: id, method, params });
    });

  const prompt = (method: string, name: string, value: unknown): string => {
    if (typeof value !== 'string') throw new TypeError(`${method}: ${name} must be a string`);
    if (value.length > promptChars)
      throw new RangeError(`${method}: ${name} is over ${promptChars} characters`);
    return value;
  };
  const model = (method: string, value: unknown): { model?: string } => {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'string') throw new TypeError(`${method}: model must be a string`);
    return { model: value };
  };
  const text = (method: string, value: unknown): string => {
    if (typeof value !== 'string')
      throw new Error(`${method}: the host answered something that is not a string`);
    return value;
  };

  sandbox.llm_query = async (p: unknown, m?: unknown): Promise<string> =>
    text(
      'llm_query',
      await call('llm_query', { prompt: prompt('llm_query', 'prompt', p), ...model('llm_query', m) }),
    );

  sandbox.llm_query_batched = async (ps: unknown, m?: unknown): Promise<string[]> => {
    const method = 'llm_query_batched';
    if (!Array.isArray(ps)) throw new TypeError(`${method}: prompts must be an array of strings`);
    if (ps.length > batchPrompts)
      throw new RangeError(`${method}: at most ${batchPrompts} prompts in one call`);
    const prompts = ps.map((p) => prompt(method, 'each prompt', p));
    if (prompts.reduce((n, p) => n + p.length, 0) > callChars)
      throw new RangeError(`${method}: the prompts are over ${callChars} characters together`);
    if (prompts.length === 0) return [];
    const value = await call(method, { prompts, ...model(method, m) });
    if (
      !Array.isArray(value) ||
      value.length !== prompts.length ||
      !value.every((v) => typeof v === 'string')
    )
      throw new Error(`${method}: the host answered something that is not an array of strings`);
    return value as string[];
  };

  sandbox.rlm_query = async (p: unknown, context?: unknown): Promise<string> => {
    const params: Record<string, unknown> = { prompt: prompt('rlm_query', 'prompt', p) };
    if (context !== undefined && context !== null) params.context = prompt('rlm_query', 'context', context);
    if ((params.prompt as string).length + ((params.context as string | undefined)?.length ?? 0) > callChars)
      throw new RangeError(`rlm_query: prompt and context are over ${callChars} characters together`);
    return text('rlm_query', await call('rlm_query', params));
  };

  return {
    onAnswer(msg) {
      const id = msg.call;
      const w = typeof id === 'number' ? waiting.get(id) : undefined;
      if (!w) return;
      waiting.delete(id as number);
      if (msg.ok === true) w.resolve(msg.value);
      else w.reject(new Error(String(msg.error ?? 'the call failed')));
    },
  };
}
