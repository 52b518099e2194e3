/**
 * A STAND-IN for an OpenAI-compatible model server (no model can be reached from here): POST
 * /v1/chat/completions on port 0. The root model answers from a script — a list of replies, or a
 * function of the conversation; any other model (the sub model) follows simple rules:
 *   `FIND <word>\n<text>` → the line of <text> holding <word>, or NONE;
 *   `CATEGORY\n<lines>`   → one category per line (by the words in CATEGORY_WORDS);
 *   anything else         → `echo: <first 80 characters>`.
 * Usage is reported (a token per 4 characters). It can answer 429 once, or die mid-run.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Msg {
  role: string;
  content: string;
}

export type RootScript = string[] | ((conversation: Msg[], call: number) => string);

export const CATEGORY_WORDS: Record<string, string[]> = {
  weather: ['rain', 'sunny', 'storm', 'snow'],
  food: ['bread', 'pasta', 'apple', 'soup'],
  sport: ['football', 'tennis', 'race', 'swim'],
};

export interface StandinOptions {
  root: RootScript;
  /** @default 'root-model' */
  rootModel?: string;
}

function subAnswer(prompt: string): string {
  if (prompt.startsWith('FIND ')) {
    const nl = prompt.indexOf('\n');
    const word = prompt.slice(5, nl).trim();
    return (
      prompt
        .slice(nl + 1)
        .split('\n')
        .find((l) => l.includes(word)) ?? 'NONE'
    );
  }
  if (prompt.startsWith('CATEGORY\n')) {
    return prompt
      .slice(9)
      .split('\n')
      .filter((l) => l.trim())
      .map(
        (l) => Object.entries(CATEGORY_WORDS).find(([, ws]) => ws.some((w) => l.includes(w)))?.[0] ?? 'other',
      )
      .join('\n');
  }
  return `echo: ${prompt.slice(0, 80)}`;
}

const tokens = (s: string) => Math.ceil(s.length / 4);

export class ModelStandin {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #o: StandinOptions;
  rootCalls = 0;
  subCalls = 0;
  #fail429 = 0;
  #dieAfterRootCalls: number | undefined;
  url = '';

  private constructor(o: StandinOptions) {
    this.#o = o;
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(o: StandinOptions): Promise<ModelStandin> {
    const s = new ModelStandin(o);
    await new Promise<void>((r) => s.#server.listen(0, '127.0.0.1', r));
    s.url = `http://127.0.0.1:${(s.#server.address() as AddressInfo).port}/v1`;
    return s;
  }

  /** The next call is answered 429 (with Retry-After: 0). */
  fail429Once(): void {
    this.#fail429 = 1;
  }

  /** After this many root answers, the server goes away: every socket cut, nothing listening. */
  dieAfterRootCalls(n: number): void {
    this.#dieAfterRootCalls = n;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404).end();
      return;
    }
    if (this.#fail429 > 0) {
      this.#fail429--;
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit' } }));
      return;
    }
    const { model, messages } = JSON.parse(body) as { model: string; messages: Msg[] };
    let text: string;
    if (model === (this.#o.rootModel ?? 'root-model')) {
      if (this.#dieAfterRootCalls !== undefined && this.rootCalls >= this.#dieAfterRootCalls) {
        await this.close();
        return;
      }
      const call = this.rootCalls++;
      const script = this.#o.root;
      text = typeof script === 'function' ? script(messages, call) : (script[call] ?? 'FINAL(script ended)');
    } else {
      this.subCalls++;
      text = subAnswer(messages.at(-1)?.content ?? '');
    }
    const promptTokens = messages.reduce((n, m) => n + tokens(m.content), 0);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${Date.now()}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: tokens(text),
          total_tokens: promptTokens + tokens(text),
        },
      }),
    );
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((r) => this.#server.close(() => r()));
  }
}
