/**
 * The agent's side of guest calls: an interpreter's driver asks (a `call` line on fd 4), the agent
 * checks it (the program can write to fd 4 too), forwards it to the host as a `call` message with
 * an id of its own, and hands the host's `call-result` back. A host that did not announce
 * `guest-calls` in `hello` is never sent one: the driver hears that no model is attached.
 */
import { GUEST_CALL_LIMITS as L, NO_HANDLER_MESSAGE, parseGuestCall } from '../guest-calls.js';
import type { GuestMessage, HostMessage } from '../protocol.js';

type CallResult = Extract<HostMessage, { type: 'call-result' }>;

interface Pending {
  channel: number;
  resolve(value: string | string[]): void;
  reject(err: Error): void;
}

/** Call ids wrap here, far below the host's id cap. */
const MAX_CALL_ID = 0x7fff_ffff;

export class GuestCalls {
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #enabled = false;

  /** `send` writes one message to the host; it throws when the message is too large for a frame. */
  constructor(private readonly send: (msg: GuestMessage) => void) {}

  /** Whether the host answers calls (it said `guest-calls` in its hello). */
  enable(on: boolean): void {
    this.#enabled = on;
  }

  /** Asks the host on behalf of the repl-run `channel`; rejects with the message the code should see. */
  call(channel: number, method: unknown, params: unknown): Promise<string | string[]> {
    if (!this.#enabled) return Promise.reject(new Error(NO_HANDLER_MESSAGE));
    if (this.#pending.size >= L.maxConcurrentCalls)
      return Promise.reject(new Error(`more than ${L.maxConcurrentCalls} calls at once from one sandbox`));
    let call: ReturnType<typeof parseGuestCall>;
    try {
      call = parseGuestCall(method, params);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const id = this.#next;
    this.#next = this.#next >= MAX_CALL_ID ? 1 : this.#next + 1;
    const { method: name, ...rest } = call;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { channel, resolve, reject });
      try {
        this.send({ type: 'call', id, channel, method: name, params: rest });
      } catch {
        this.#pending.delete(id);
        reject(new Error(`${name}: the call is too large for one frame`));
      }
    });
  }

  /** The host's answer; one for no waiting call (cancelled, or forged) is dropped. */
  onAnswer(msg: CallResult): void {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    if (msg.ok && (typeof msg.value === 'string' || Array.isArray(msg.value))) p.resolve(msg.value);
    else
      p.reject(
        new Error(String((msg as { error?: { message?: unknown } }).error?.message ?? 'the call failed')),
      );
  }

  /** The run on `channel` ended: its calls are dropped (the host cancels its side on its own). */
  cancelChannel(channel: number): void {
    for (const [id, p] of this.#pending)
      if (p.channel === channel) {
        this.#pending.delete(id);
        p.reject(new Error('the run that made this call ended'));
      }
  }
}
