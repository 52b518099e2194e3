/**
 * A writer for the `newc` cpio format the kernel unpacks as an initramfs. Deterministic: every
 * entry gets mtime 0 and fixed inode numbers, so the same inputs give the same bytes (and hash).
 */

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);

function header(f: {
  ino: number;
  mode: number;
  nlink: number;
  size: number;
  name: string;
  rdevMajor?: number;
  rdevMinor?: number;
}): Buffer {
  const name = Buffer.from(`${f.name}\0`);
  const fields = [
    '070701',
    hex8(f.ino),
    hex8(f.mode),
    hex8(0), // uid
    hex8(0), // gid
    hex8(f.nlink),
    hex8(0), // mtime
    hex8(f.size),
    hex8(0), // dev major
    hex8(0), // dev minor
    hex8(f.rdevMajor ?? 0),
    hex8(f.rdevMinor ?? 0),
    hex8(name.length),
    hex8(0), // check
  ].join('');
  const head = Buffer.concat([Buffer.from(fields, 'ascii'), name]);
  return Buffer.concat([head, pad4(head.length)]);
}

/** Builds a complete archive (with the `TRAILER!!!` entry). Paths are relative, without a leading `/`. */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    switch (e.type) {
      case 'dir':
        parts.push(header({ ino: ino++, mode: S_IFDIR | (e.mode ?? 0o755), nlink: 2, size: 0, name }));
        break;
      case 'file':
        parts.push(
          header({ ino: ino++, mode: S_IFREG | (e.mode ?? 0o644), nlink: 1, size: e.data.length, name }),
        );
        parts.push(e.data, pad4(e.data.length));
        break;
      case 'symlink': {
        const data = Buffer.from(e.target);
        parts.push(header({ ino: ino++, mode: S_IFLNK | 0o777, nlink: 1, size: data.length, name }));
        parts.push(data, pad4(data.length));
        break;
      }
      case 'chardev':
        parts.push(
          header({
            ino: ino++,
            mode: S_IFCHR | (e.mode ?? 0o600),
            nlink: 1,
            size: 0,
            name,
            rdevMajor: e.major,
            rdevMinor: e.minor,
          }),
        );
        break;
    }
  }
  parts.push(header({ ino: 0, mode: 0, nlink: 1, size: 0, name: 'TRAILER!!!' }));
  return Buffer.concat(parts);
}
