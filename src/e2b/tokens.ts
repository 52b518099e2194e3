import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * The per-sandbox secrets of the E2B sandbox plane: an envd access token and a traffic token for
 * each sandbox, derived from one server secret with HMAC-SHA-256. Nothing per sandbox is stored,
 * and a paused sandbox keeps its tokens across a server restart (the secret is a file in the state
 * dir, mode 0600).
 */
export class SandboxTokens {
  private constructor(private readonly secret: Buffer) {}

  /** Reads the secret at `file`, or makes one there. */
  static async open(file: string): Promise<SandboxTokens> {
    const existing = await readFile(file).catch(() => undefined);
    if (existing && existing.length >= 32) return new SandboxTokens(existing);
    await mkdir(dirname(file), { recursive: true });
    const secret = randomBytes(32);
    await writeFile(file, secret, { mode: 0o600 });
    await chmod(file, 0o600);
    return new SandboxTokens(secret);
  }

  /** A secret that lives as long as the process (tests, embedded servers). */
  static ephemeral(): SandboxTokens {
    return new SandboxTokens(randomBytes(32));
  }

  /** Sent by the SDK as `X-Access-Token` on every envd request. */
  envd(sandboxId: string): string {
    return `ea_${this.#mac('envd', sandboxId)}`;
  }

  /** Sent by the SDK as `E2B-Traffic-Access-Token` on every code-interpreter request. */
  traffic(sandboxId: string): string {
    return `ta_${this.#mac('traffic', sandboxId)}`;
  }

  /** Compares a token a client sent with the one expected, in constant time. */
  static matches(expected: string, given: unknown): boolean {
    if (typeof given !== 'string') return false;
    const a = Buffer.from(expected);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  #mac(purpose: string, sandboxId: string): string {
    return createHmac('sha256', this.secret).update(`${purpose}\0${sandboxId}`).digest('base64url');
  }
}
