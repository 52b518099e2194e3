import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';

/** mountinfo escapes space, tab, newline and backslash as octal. */
function decodeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

interface MountLine {
  device: string;
  root: string;
  mountPoint: string;
}

function parseMountinfo(text: string): MountLine[] {
  const out: MountLine[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    out.push({ device: f[2] ?? '', root: decodeOctal(f[3] ?? ''), mountPoint: decodeOctal(f[4] ?? '') });
  }
  return out;
}

/** Where `dir` lives as seen from inside its filesystem: the device and the path from that fs's root. */
function locate(dir: string): { device: string; rel: string } | undefined {
  let best: MountLine | undefined;
  for (const m of parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))) {
    if (under(dir, m.mountPoint) && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  if (!best) return undefined;
  const tail = best.mountPoint === '/' ? dir : dir.slice(best.mountPoint.length);
  const rel = (best.root === '/' ? '' : best.root) + tail;
  return { device: best.device, rel: rel || '/' };
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/**
 * Live processes that use `dir`: their root is inside it, or a mount in their mount namespace
 * shows (part of) it — a bind mount into a sandbox, or a mount below it. Processes that vanish
 * while being read are skipped.
 */
export function findUsers(dir: string): number[] {
  const real = safe(() => realpathSync(dir)) ?? dir;
  if (!safe(() => statSync(real).isDirectory())) return [];
  const where = locate(real);
  const users = new Set<number>();
  const seenNs = new Set<string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const root = safe(() => readlinkSync(`/proc/${pid}/root`));
    if (root !== undefined && root !== '/' && under(root, real)) {
      users.add(pid);
      continue;
    }
    const ns = safe(() => readlinkSync(`/proc/${pid}/ns/mnt`));
    if (ns === undefined || seenNs.has(ns)) continue;
    seenNs.add(ns);
    const text = safe(() => readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
    if (text === undefined) continue;
    const uses = parseMountinfo(text).some(
      (m) =>
        (where !== undefined && m.device === where.device && where.rel !== '/' && under(m.root, where.rel)) ||
        under(m.mountPoint, real),
    );
    if (uses) users.add(pid);
  }
  return [...users].sort((a, b) => a - b);
}

/** Mount points at or below `dir` in this process's mount namespace, deepest first. */
export function mountsUnder(dir: string): string[] {
  const real = safe(() => realpathSync(dir)) ?? dir;
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.mountPoint)
    .filter((mp) => under(mp, real))
    .sort((a, b) => b.length - a.length);
}

/** Whether a process with this pid exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
