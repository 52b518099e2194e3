import { describe, expect, it } from 'vitest';
import { Limiter } from '../src/host/limiter.js';

describe('Limiter', () => {
  it('lets `limit` holders in at once and the rest in FIFO order as slots free', async () => {
    const lim = new Limiter(2);
    const a = await lim.acquire();
    const b = await lim.acquire();
    const order: string[] = [];
    const take = (name: string) =>
      lim.acquire().then((release) => {
        order.push(name);
        return release;
      });
    const c = take('c');
    const d = take('d');
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    a();
    a(); // idempotent: frees one slot, not two
    const releaseC = await c;
    expect(order).toEqual(['c']);
    expect(lim.held).toBe(2);
    b();
    (await d)();
    releaseC();
    expect(lim.held).toBe(0);
  });

  it('a waiter whose signal aborts leaves the queue with CANCELLED and takes no slot', async () => {
    const lim = new Limiter(1);
    const first = await lim.acquire();
    const ctrl = new AbortController();
    const waiting = lim.acquire(ctrl.signal);
    ctrl.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'CANCELLED' });
    first();
    expect(lim.held).toBe(0);
    await expect(lim.acquire(ctrl.signal)).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});
