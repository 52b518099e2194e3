/** Keeps the last `maxBytes` of a stream (e.g. a sandbox's stderr) for error messages. */
export class TailBuffer {
  readonly #maxBytes: number;
  #chunks: Buffer[] = [];
  #size = 0;

  /** @param maxBytes how much of the end to keep. @default 8192 */
  constructor(maxBytes = 8192) {
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - (this.#chunks[0]?.length ?? 0) >= this.#maxBytes && this.#chunks.length > 1) {
      this.#size -= this.#chunks.shift()?.length ?? 0;
    }
  }

  /** The kept text, at most `maxBytes`, trimmed. */
  text(): string {
    const all = Buffer.concat(this.#chunks);
    return all
      .subarray(Math.max(0, all.length - this.#maxBytes))
      .toString('utf8')
      .trim();
  }
}
