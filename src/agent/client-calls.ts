/**
 * The host's side of guest calls (`call` messages, see protocol.ts): each is checked, bounded and
 * given to the handler set for the sandbox, and exactly one `call-result` goes back for it. Nothing
 * a guest sends here throws: a call of the wrong shape, over its caps, or beyond the concurrent
 * bound is answered with an error. A handler's signal fires when the run that made the call ends
 * or the connection closes; the guest then gets an error answer at once.
 */

import { encodeJson } from './framing.js';
import {
  checkCallAnswer,
  type GuestCall,
  type GuestCallHandler,
  GuestCallRefused,
  GUEST_CALL_LIMITS as L,
  NO_HANDLER_MESSAGE,
  parseGuestCall,
} from './guest-calls.js';
import type { GuestMessage, HostMessage } from './protocol.js';

type CallMessage = Extract<GuestMessage, { type: 'call' }>;
type CallResult = Extract<HostMessage, { type: 'call-result' }>;

interface InFlight {
  channel: number;
  controller: AbortController;
}

export class GuestCallTable {
  #handler: GuestCallHandler | undefined;
  readonly #inFlight = new Map<number, InFlight>();
  #closed = false;

  /** `write` sends one frame; `runLive(channel)` says whether the repl-run on that channel still runs. */
  constructor(
    private readonly write: (frame: Buffer) => void,
    private readonly runLive: (channel: number) => boolean,
  ) {}

  setHandler(handler: GuestCallHandler | undefined): void {
    this.#handler = handler;
  }

  get handler(): GuestCallHandler | undefined {
    return this.#handler;
  }

  /** Calls waiting on their handler now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  onCall(msg: CallMessage): void {
    const { id, channel } = msg;
    if (this.#closed) return;
    const handler = this.#handler;
    let call: GuestCall | undefined;
    let refusal: string | undefined;
    if (this.#inFlight.has(id)) refusal = `call id ${id} is already in use`;
    else if (!handler) refusal = NO_HANDLER_MESSAGE;
    else if (!this.runLive(channel)) refusal = 'the run that made this call has ended';
    else if (this.#inFlight.size >= L.maxConcurrentCalls)
      refusal = `more than ${L.maxConcurrentCalls} calls at once from one sandbox`;
    else
      try {
        call = parseGuestCall(msg.method, msg.params);
      } catch (err) {
        refusal = (err as Error).message;
      }
    if (!handler || !call) {
      this.#fail(id, refusal ?? 'refused');
      return;
    }
    this.#start(id, channel, call, handler);
  }

  #start(id: number, channel: number, call: GuestCall, handler: GuestCallHandler): void {
    const entry: InFlight = { channel, controller: new AbortController() };
    this.#inFlight.set(id, entry);
    entry.controller.signal.addEventListener('abort', () => this.#settle(id, entry, undefined, 'cancelled'), {
      once: true,
    });
    let pending: Promise<unknown>;
    try {
      pending = Promise.resolve(handler(call, entry.controller.signal));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (value) => {
        let answer: string | string[];
        try {
          answer = checkCallAnswer(call, value);
        } catch (err) {
          return this.#settle(id, entry, undefined, (err as Error).message);
        }
        this.#settle(id, entry, answer);
      },
      (err: unknown) => this.#settle(id, entry, undefined, messageOf(err)),
    );
  }

  /** The repl-run on `channel` ended: its calls are cancelled and answered so. */
  runEnded(channel: number): void {
    for (const entry of [...this.#inFlight.values()]) if (entry.channel === channel) entry.controller.abort();
  }

  /** The connection closed: every handler's signal fires; nothing more is sent. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const entry of [...this.#inFlight.values()]) entry.controller.abort();
    this.#inFlight.clear();
  }

  #settle(id: number, entry: InFlight, value: string | string[] | undefined, error?: string): void {
    if (this.#inFlight.get(id) !== entry) return;
    this.#inFlight.delete(id);
    if (this.#closed) return;
    if (error === 'cancelled') this.#fail(id, 'the call was cancelled: the run that made it ended');
    else if (error !== undefined || value === undefined) this.#fail(id, error ?? 'no answer');
    else this.#send({ type: 'call-result', id, ok: true, value });
  }

  #send(msg: CallResult): void {
    this.write(encodeAnswer(msg));
  }

  #fail(id: number, message: string): void {
    if (this.#closed) return;
    this.#send({
      type: 'call-result',
      id,
      ok: false,
      error: { code: 'GUEST_CALL_FAILED', message: message.slice(0, L.maxErrorChars) },
    });
  }
}

/** One answer; one too large for a frame (a long answer of escaped characters) goes as an error. */
function encodeAnswer(msg: CallResult): Buffer {
  try {
    return encodeJson(msg);
  } catch {
    return encodeJson({
      type: 'call-result',
      id: msg.id,
      ok: false,
      error: { code: 'GUEST_CALL_FAILED', message: 'the answer is too large for one frame' },
    });
  }
}

function messageOf(err: unknown): string {
  if (err instanceof GuestCallRefused) return err.message;
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
