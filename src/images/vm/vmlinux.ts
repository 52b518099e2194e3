import { spawnSync } from 'node:child_process';
import { inflateRawSync } from 'node:zlib';
import { HearthError } from '../../errors/hearth-error.js';

/**
 * Extracts the uncompressed ELF `vmlinux` from a compressed kernel image (bzImage), as the
 * kernel's own scripts/extract-vmlinux does: find the magic of each compression format, try to
 * decompress from there, keep the first result that is an ELF file. Firecracker boots only an
 * uncompressed vmlinux.
 */

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

interface Format {
  name: string;
  magic: Buffer;
  decompress(data: Buffer): Buffer;
}

function viaTool(cmd: string, args: string[]): (data: Buffer) => Buffer {
  return (data) => {
    const r = spawnSync(cmd, args, { input: data, maxBuffer: 512 * 1024 * 1024 });
    // Trailing garbage after the stream makes these tools exit non-zero while still writing
    // the whole stream; the ELF check decides.
    if (r.error) throw r.error;
    return r.stdout;
  };
}

const FORMATS: Format[] = [
  {
    name: 'gzip',
    magic: Buffer.from([0x1f, 0x8b, 0x08]),
    decompress: (d) => gunzipMember(d),
  },
  { name: 'lz4', magic: Buffer.from([0x02, 0x21, 0x4c, 0x18]), decompress: lz4LegacyDecompress },
  {
    name: 'xz',
    magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
    decompress: viaTool('xz', ['-dc', '--single-stream']),
  },
  { name: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), decompress: viaTool('zstd', ['-dcq']) },
];

/** One gzip member, ignoring whatever follows it (a bzImage carries data after the payload). */
function gunzipMember(d: Buffer): Buffer {
  const flags = d[3] as number;
  let pos = 10;
  if (flags & 4) pos += 2 + d.readUInt16LE(pos); // FEXTRA
  if (flags & 8) pos = d.indexOf(0, pos) + 1; // FNAME
  if (flags & 16) pos = d.indexOf(0, pos) + 1; // FCOMMENT
  if (flags & 2) pos += 2; // FHCRC
  return inflateRawSync(d.subarray(pos));
}

/** Decompresses an LZ4 "legacy" stream (what the kernel's build uses): magic, then blocks of `u32le size | data`. */
export function lz4LegacyDecompress(input: Buffer): Buffer {
  if (input.readUInt32LE(0) !== 0x184c2102) throw new Error('not an LZ4 legacy stream');
  const out: Buffer[] = [];
  let pos = 4;
  while (pos + 4 <= input.length) {
    const size = input.readUInt32LE(pos);
    // The next stream's magic, or a size past the end, ends the stream (kernel images append data).
    if (size === 0x184c2102 || size === 0 || pos + 4 + size > input.length) break;
    out.push(lz4Block(input.subarray(pos + 4, pos + 4 + size), 8 * 1024 * 1024));
    pos += 4 + size;
  }
  return Buffer.concat(out);
}

/** Decodes one raw LZ4 block of at most `maxOut` bytes. */
export function lz4Block(src: Buffer, maxOut: number): Buffer {
  const dst = Buffer.allocUnsafe(maxOut);
  let s = 0;
  let d = 0;
  while (s < src.length) {
    const token = src[s++] as number;
    let lit = token >> 4;
    if (lit === 15) {
      let b: number;
      do {
        b = src[s++] as number;
        lit += b;
      } while (b === 255 && s < src.length);
    }
    if (d + lit > maxOut || s + lit > src.length) throw new Error('corrupt LZ4 block (literals)');
    src.copy(dst, d, s, s + lit);
    s += lit;
    d += lit;
    if (s >= src.length) break; // the last sequence has literals only
    const offset = (src[s] as number) | ((src[s + 1] as number) << 8);
    s += 2;
    if (offset === 0 || offset > d) throw new Error('corrupt LZ4 block (offset)');
    let len = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        b = src[s++] as number;
        len += b;
      } while (b === 255 && s < src.length);
    }
    if (d + len > maxOut) throw new Error('corrupt LZ4 block (match)');
    // Overlapping copies are the point of LZ4 (runs); copy byte by byte when they overlap.
    if (offset >= len) {
      dst.copy(dst, d, d - offset, d - offset + len);
      d += len;
    } else {
      for (let i = 0; i < len; i++, d++) dst[d] = dst[d - offset] as number;
    }
  }
  return dst.subarray(0, d);
}

/** Returns the ELF vmlinux inside `image`, or throws VALIDATION_FAILED when none is found. */
export function extractVmlinux(image: Buffer): { vmlinux: Buffer; format: string } {
  if (image.subarray(0, 4).equals(ELF_MAGIC)) return { vmlinux: image, format: 'none' };
  for (const f of FORMATS) {
    let at = image.indexOf(f.magic);
    while (at >= 0) {
      try {
        const out = f.decompress(image.subarray(at));
        if (out.subarray(0, 4).equals(ELF_MAGIC)) return { vmlinux: out, format: f.name };
      } catch {
        // Not a real stream at this offset: keep looking.
      }
      at = image.indexOf(f.magic, at + 1);
    }
  }
  throw new HearthError(
    'VALIDATION_FAILED',
    'no compressed ELF kernel (gzip, lz4, xz or zstd) found in the kernel image',
    {
      hint: 'Use a bzImage built by the Linux kernel build (e.g. Debian linux-image-*-cloud-amd64).',
    },
  );
}
