import { open, readFile, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { HearthError } from '../errors/hearth-error.js';
import { pidAlive } from './in-use.js';

export interface LockOptions {
  /** Called once when another live process holds the lock and this one starts waiting. */
  onWait?: (holderPid: number) => void;
  signal?: AbortSignal;
  /** How often to look again. @default 500 */
  pollMs?: number;
}

/**
 * Takes an exclusive lock file holding this process's pid. A lock whose holder died is taken over;
 * one held by a live process is waited for. Returns the release function.
 */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  let announced = false;
  let emptyReads = 0;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        const holder = await readFile(path, 'utf8').catch(() => '');
        if (holder === String(process.pid)) await unlink(path).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text === '' && emptyReads++ < 20) {
      // Created but not yet written by its holder.
      await sleep(50);
      continue;
    }
    const holder = Number(text);
    if (!Number.isInteger(holder) || holder <= 0 || holder === process.pid || !pidAlive(holder)) {
      // Dead holder (or a lock file cut short): take it over.
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (!announced) opts.onWait?.(holder);
    announced = true;
    if (opts.signal?.aborted) throw new HearthError('CANCELLED', `gave up waiting for the lock ${path}`);
    await sleep(opts.pollMs ?? 500);
  }
}
