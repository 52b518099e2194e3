import { StringDecoder } from 'node:string_decoder';
import type { Job, JobStage, OutputStream } from './types.js';

/** What a job's subscribers receive, in order. */
export type JobEvent =
  | { type: 'status'; status: 'running'; backend: string }
  | { type: 'stage'; stage: JobStage }
  | { type: 'output'; stage: JobStage; stream: OutputStream; data: string }
  | { type: 'result'; job: Job };

export type JobListener = (event: JobEvent) => void;

interface Channel {
  listeners: Set<JobListener>;
  /** Everything emitted so far, replayed to late subscribers while the job is live. */
  history: JobEvent[];
  historyBytes: number;
  decoders: Map<string, StringDecoder>;
}

/** Bytes of output kept per live job for replay; past it late subscribers miss the oldest chunks. */
const MAX_HISTORY_BYTES = 4 * 1024 * 1024;

/**
 * The in-process event bus of live jobs: output chunks as they happen, then the final job.
 * Output is decoded as UTF-8 per stream, so a character split across chunks arrives whole.
 */
export class JobEventBus {
  readonly #channels = new Map<string, Channel>();

  /** Starts a job's channel (at submit), so subscribers between submit and start miss nothing. */
  open(id: string): void {
    if (!this.#channels.has(id)) {
      this.#channels.set(id, { listeners: new Set(), history: [], historyBytes: 0, decoders: new Map() });
    }
  }

  isLive(id: string): boolean {
    return this.#channels.has(id);
  }

  emit(id: string, event: JobEvent): void {
    const ch = this.#channels.get(id);
    if (!ch) return;
    if (event.type === 'output') ch.historyBytes += event.data.length;
    if (ch.historyBytes <= MAX_HISTORY_BYTES) ch.history.push(event);
    for (const l of ch.listeners) l(event);
  }

  /** Decodes a raw chunk and emits it as an `output` event. */
  output(id: string, stage: JobStage, stream: OutputStream, chunk: Buffer): void {
    const ch = this.#channels.get(id);
    if (!ch) return;
    const key = `${stage}:${stream}`;
    let dec = ch.decoders.get(key);
    if (!dec) {
      dec = new StringDecoder('utf8');
      ch.decoders.set(key, dec);
    }
    const data = dec.write(chunk);
    if (data) this.emit(id, { type: 'output', stage, stream, data });
  }

  /** Emits the final job and closes the channel. */
  finish(job: Job): void {
    const ch = this.#channels.get(job.id);
    if (!ch) return;
    for (const [key, dec] of ch.decoders) {
      const rest = dec.end();
      const [stage, stream] = key.split(':') as [JobStage, OutputStream];
      if (rest) this.emit(job.id, { type: 'output', stage, stream, data: rest });
    }
    this.#channels.delete(job.id);
    for (const l of ch.listeners) l({ type: 'result', job });
  }

  /** Subscribes to a live job, replaying what it emitted so far; false if the job is not live. */
  subscribe(id: string, listener: JobListener): (() => void) | undefined {
    const ch = this.#channels.get(id);
    if (!ch) return undefined;
    for (const e of ch.history) listener(e);
    ch.listeners.add(listener);
    return () => ch.listeners.delete(listener);
  }
}
