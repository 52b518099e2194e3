/**
 * The files API inside the sandbox. Every path goes through the confinement first.
 */
import type { Stats } from 'node:fs';
import {
  chmod,
  lchown,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rm,
  rmdir,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DATA_CHUNK_BYTES, type FileStat } from '../protocol.js';
import type { Confinement } from './confine.js';
import { GuestError } from './guest-error.js';

export interface FileSink {
  /** Sends one chunk of file content; resolves when the caller may send more. */
  send(bytes: Buffer): Promise<void>;
}

export class GuestFiles {
  constructor(private readonly confine: Confinement) {}

  async read(path: string, sink: FileSink): Promise<{ size: number }> {
    const abs = this.confine.resolve(path);
    // Check before opening: opening a FIFO would block until someone writes to it.
    checkRegular(path, await stat(abs));
    const handle = await open(abs, 'r');
    try {
      let size = 0;
      for (;;) {
        const buf = Buffer.allocUnsafe(DATA_CHUNK_BYTES);
        const { bytesRead } = await handle.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        size += bytesRead;
        await sink.send(buf.subarray(0, bytesRead));
      }
      return { size };
    } finally {
      await handle.close();
    }
  }

  async write(
    path: string,
    data: Buffer,
    opts: { mode?: number; append?: boolean },
  ): Promise<{ size: number }> {
    const abs = this.confine.resolve(path);
    const made = await mkdir(dirname(abs), { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST' || err.code === 'ENOTDIR')
        throw new GuestError('NOT_A_DIRECTORY', `a parent of ${path} is not a directory`);
      throw err;
    });
    await this.#own(made, dirname(abs));
    // The parent may have been created just now; check again that nothing escaped on the way.
    this.confine.resolve(path);
    const st = await stat(abs).catch(() => undefined);
    if (st) checkRegular(path, st);
    await writeFile(abs, data, { flag: opts.append ? 'a' : 'w', mode: opts.mode ?? 0o644 });
    if (opts.mode !== undefined) await chmod(abs, opts.mode);
    await this.#own(abs, abs);
    return { size: data.length };
  }

  /**
   * Gives `from` and every path below it down to `to` to the programs' user, when the agent is not
   * that user (as root in a microVM): what the files API makes, programs may change.
   */
  async #own(from: string | undefined, to: string): Promise<void> {
    const owner = this.confine.owner;
    if (!owner || from === undefined) return;
    for (let p = to; ; p = dirname(p)) {
      await lchown(p, owner.uid, owner.gid);
      if (p === from || dirname(p) === p) return;
    }
  }

  async list(path: string): Promise<FileStat[]> {
    const abs = this.confine.resolve(path);
    const st = await stat(abs);
    if (!st.isDirectory()) throw new GuestError('NOT_A_DIRECTORY', `${path} is not a directory`);
    const names = (await readdir(abs)).sort();
    const out: FileStat[] = [];
    for (const name of names) {
      const child = join(abs, name);
      const cst = await lstat(child).catch(() => undefined);
      if (cst) out.push(await this.#toStat(child, cst));
    }
    return out;
  }

  async stat(path: string): Promise<FileStat> {
    const abs = this.confine.resolve(path);
    return await this.#toStat(abs, await lstat(abs));
  }

  async mkdir(path: string, recursive: boolean): Promise<null> {
    const abs = this.confine.resolve(path);
    const made = await mkdir(abs, { recursive });
    await this.#own(recursive ? made : abs, abs);
    return null;
  }

  async remove(path: string, recursive: boolean): Promise<null> {
    const abs = this.confine.resolve(path);
    if (this.confine.isRoot(abs)) throw new GuestError('PATH_ESCAPE', `${path} itself cannot be removed`);
    const st = await lstat(abs);
    if (!st.isDirectory()) await unlink(abs);
    else if (recursive) await rm(abs, { recursive: true, force: true });
    else await rmdir(abs);
    return null;
  }

  async #toStat(abs: string, st: Stats): Promise<FileStat> {
    // A link that vanishes between lstat and readlink is reported without its target.
    const target = st.isSymbolicLink() ? await readlink(abs).catch(() => undefined) : undefined;
    return {
      name: basename(abs),
      path: this.confine.display(abs),
      type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other',
      size: st.size,
      mode: st.mode & 0o7777,
      mtimeMs: st.mtimeMs,
      uid: st.uid,
      gid: st.gid,
      ...(target === undefined ? {} : { target }),
    };
  }
}

function checkRegular(path: string, st: Stats): void {
  if (st.isDirectory()) throw new GuestError('IS_A_DIRECTORY', `${path} is a directory`);
  if (!st.isFile()) throw new GuestError('BAD_REQUEST', `${path} is not a regular file`);
}
