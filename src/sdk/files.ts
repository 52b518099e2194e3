import type { FileEntry } from '../api/sessions.js';
import type { SessionsApi } from '../api/sessions-api.js';
import { codeOf } from './errors.js';

const isMissing = (err: unknown) => codeOf(err) === 'FILE_NOT_FOUND' || codeOf(err) === 'NOT_A_DIRECTORY';

/** `sandbox.files`: the session's filesystem, confined to the sandbox as the API confines it. */
export class Files {
  readonly #api: SessionsApi;
  readonly #sessionId: string;

  constructor(api: SessionsApi, sessionId: string) {
    this.#api = api;
    this.#sessionId = sessionId;
  }

  /** A file's content: text (UTF-8) unless `format: 'bytes'`. @default { format: 'text' } */
  read(path: string, opts?: { format?: 'text' }): Promise<string>;
  read(path: string, opts: { format: 'bytes' }): Promise<Buffer>;
  async read(path: string, opts: { format?: 'text' | 'bytes' } = {}): Promise<string | Buffer> {
    const bytes = await this.#api.readFile(this.#sessionId, path);
    return opts.format === 'bytes' ? bytes : bytes.toString('utf8');
  }

  /** Writes (creates or replaces) a file; its parent directories are made as needed. */
  write(path: string, data: string | Uint8Array | ArrayBuffer): Promise<FileEntry> {
    const content =
      typeof data === 'string'
        ? data
        : data instanceof ArrayBuffer
          ? Buffer.from(data)
          : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.#api.writeFile(this.#sessionId, path, content);
  }

  /** What a directory holds. @default { depth: 1 } */
  list(path: string, opts: { depth?: number } = {}): Promise<FileEntry[]> {
    return this.#api.listFiles(this.#sessionId, path, opts);
  }

  /** Removes a file, or a directory with what it holds (as E2B's `files.remove`). @default { recursive: true } */
  remove(path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    return this.#api.removeFile(this.#sessionId, path, { recursive: opts.recursive ?? true });
  }

  /** Makes a directory (and its parents); false when it was already there. */
  async makeDir(path: string): Promise<boolean> {
    if (await this.exists(path)) return false;
    try {
      await this.#api.makeDir(this.#sessionId, path);
      return true;
    } catch (err) {
      if (codeOf(err) === 'FILE_EXISTS') return false;
      throw err;
    }
  }

  rename(from: string, to: string): Promise<FileEntry> {
    return this.#api.renameFile(this.#sessionId, from, to);
  }

  /** Whether anything is at `path`. */
  async exists(path: string): Promise<boolean> {
    try {
      await this.#api.statFile(this.#sessionId, path);
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** What is at `path`: its type, size, mode and mtime. */
  getInfo(path: string): Promise<FileEntry> {
    return this.#api.statFile(this.#sessionId, path);
  }
}
