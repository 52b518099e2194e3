/** Shared helpers for `npm run bench`: timing samples, percentiles and ratio rows. */

export interface Stats {
  n: number;
  p50: number;
  p95: number;
  mean: number;
  min: number;
}

export function stats(samplesMs: number[]): Stats {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))] ?? Number.NaN;
  return {
    n: s.length,
    p50: at(0.5),
    p95: at(0.95),
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
    min: s[0] ?? Number.NaN,
  };
}

/** Runs `fn` `warmup` times untimed, then `n` times timed; returns the samples in ms. */
export async function sample(n: number, fn: () => Promise<unknown> | unknown, warmup = 2): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return stats(out);
}

/**
 * Times `a` and `b` alternately, so both see the same host load (this machine is shared): the
 * ratio of their p50s is then far steadier than that of two runs taken one after the other.
 */
export async function paired(
  n: number,
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  warmup = 1,
): Promise<[Stats, Stats]> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  // A function that returns a number reports its own figure (e.g. without its cleanup).
  const time = async (fn: () => Promise<unknown>) => {
    const t = performance.now();
    const r = await fn();
    return typeof r === 'number' ? r : performance.now() - t;
  };
  for (let i = 0; i < n; i++) {
    ta.push(await time(a));
    tb.push(await time(b));
  }
  return [stats(ta), stats(tb)];
}

export interface Row {
  group: string;
  name: string;
  value: string;
  /** e.g. `1.21x floor (bwrap python3 -c)` */
  ratio?: string;
  target?: string;
  met?: boolean;
}

const rows: Row[] = [];

export function report(row: Row): void {
  rows.push(row);
  const verdict = row.met === undefined ? '' : row.met ? '  [target met]' : '  [target missed]';
  const ratio = row.ratio ? `  ${row.ratio}` : '';
  const target = row.target ? `  (target ${row.target})` : '';
  process.stdout.write(
    `${row.group.padEnd(8)} ${row.name.padEnd(44)} ${row.value.padStart(22)}${ratio}${target}${verdict}\n`,
  );
}

export function allRows(): readonly Row[] {
  return rows;
}

export const ms = (v: number): string => `${v.toFixed(v < 10 ? 2 : 1)} ms`;
export const pct = (s: Stats): string => `p50 ${ms(s.p50)} p95 ${ms(s.p95)}`;
export const ratio = (v: number, floor: number, label: string): string =>
  `${(v / floor).toFixed(2)}x ${label}`;

/** The floor every sandbox figure is compared with: bwrap alone, all namespaces, the image read-only. */
export function bareBwrap(rootfs: string, command: string[]): string[] {
  return [
    '--unshare-all',
    '--die-with-parent',
    '--ro-bind',
    rootfs,
    '/',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    '/work',
    '--chdir',
    '/work',
    '--clearenv',
    '--setenv',
    'PATH',
    '/usr/bin:/bin',
    '--',
    ...command,
  ];
}

/** POSTs JSON and answers the JSON reply; a status of 300 or more throws with the reply's head. */
export async function postJson<T>(url: string, body: object): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const out = (await res.json()) as T;
  if (res.status >= 300) throw new Error(`POST ${url}: ${res.status} ${JSON.stringify(out).slice(0, 300)}`);
  return out;
}
