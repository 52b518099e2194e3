import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { HearthError } from '../errors/hearth-error.js';
import { Limiter } from '../host/limiter.js';

/**
 * TypeScript type-stripping, bounded. Each source goes through its own esbuild process, started
 * under `ulimit -d` (Go's heap and goroutine stacks are private writable mappings, so the data limit
 * caps them), killed past a wall-clock limit and past an output cap. A pathological input — 300,000
 * nested parentheses overflow esbuild's parser stack — then fails that one source with a compile
 * error; esbuild's shared in-process service, which such an input killed for every later job, is
 * not used. One process is kept started ahead, waiting on its stdin, so a job does not wait for
 * esbuild to start.
 */
export interface TypeStripLimits {
  /** Wall-clock limit of one source. @default 10000 */
  timeoutMs: number;
  /** Data segment (heap and stacks) of the esbuild process. @default 512 */
  memoryMb: number;
  /** Output bytes: past `max(outputFloorBytes, 8 × input)` the process is killed. @default 4 MiB */
  outputFloorBytes: number;
  /** Sources stripped at once; the rest wait. @default 2 */
  concurrency: number;
}

const DEFAULT_LIMITS: TypeStripLimits = {
  timeoutMs: 10_000,
  memoryMb: 512,
  outputFloorBytes: 4 * 1024 * 1024,
  concurrency: 2,
};

/** Bytes of esbuild's stderr kept: its messages, never a flood. */
const MAX_STDERR_BYTES = 64 * 1024;

/** The native esbuild binary of this platform (the `esbuild` package installs it as bin/esbuild). */
function esbuildBinary(): string {
  const req = createRequire(import.meta.url);
  try {
    return req.resolve(`@esbuild/${process.platform}-${process.arch}/bin/esbuild`);
  } catch {
    return req.resolve('esbuild/bin/esbuild');
  }
}

function compileError(text: string): HearthError {
  return new HearthError('VALIDATION_FAILED', `TypeScript compile error:\n${text}`, {
    hint: 'Fix the TypeScript error at the line and column named.',
    details: { stage: 'compile', output: text },
  });
}

/** esbuild's CLI messages as `name:line:column: text`, one per error. */
function errorsOf(name: string, stderr: string): string | undefined {
  const found = [...stderr.matchAll(/\[ERROR\] ([^\n]*)\n\n\s+\S*?:(\d+):(\d+):/g)].map(
    (m) => `${name}:${m[2]}:${m[3]}: ${m[1]}`,
  );
  if (found.length) return found.join('\n');
  const plain = [...stderr.matchAll(/\[ERROR\] ([^\n]*)/g)].map((m) => `${name}: ${m[1]}`);
  return plain.length ? plain.join('\n') : undefined;
}

export class TypeStripper {
  readonly limits: TypeStripLimits;
  readonly #slots: Limiter;
  #binary: string | undefined;
  #spare: ChildProcess | undefined;

  constructor(limits: Partial<TypeStripLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.#slots = new Limiter(this.limits.concurrency);
  }

  /** The JavaScript of `source`; a compile-stage VALIDATION_FAILED names what went wrong. */
  async strip(source: Buffer, name: string): Promise<Buffer> {
    const release = await this.#slots.acquire();
    try {
      return await this.#run(source, name);
    } finally {
      release();
    }
  }

  /** A started esbuild, waiting for its input. Unreferenced: it never keeps the host alive. */
  #start(): ChildProcess {
    this.#binary ??= esbuildBinary();
    const kb = this.limits.memoryMb * 1024;
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        `ulimit -d ${kb} && exec "$0" "$@"`,
        this.#binary,
        '--loader=ts',
        '--format=esm',
        '--target=node20',
        '--color=false',
        '--log-level=error',
        '--log-limit=10',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' } },
    );
    child.unref();
    child.on('error', () => {});
    for (const s of [child.stdin, child.stdout, child.stderr]) {
      s?.on('error', () => {});
      (s as unknown as { unref?(): void } | null)?.unref?.();
    }
    return child;
  }

  #take(): ChildProcess {
    const spare = this.#spare;
    this.#spare = this.#start();
    if (spare && spare.exitCode === null && spare.signalCode === null) return spare;
    return this.#start();
  }

  #run(source: Buffer, name: string): Promise<Buffer> {
    const child = this.#take();
    const cap = Math.max(this.limits.outputFloorBytes, source.length * 8);
    return new Promise<Buffer>((resolve, reject) => {
      const out: Buffer[] = [];
      let outBytes = 0;
      let err = '';
      let killedFor: string | undefined;
      const kill = (why: string) => {
        killedFor ??= why;
        child.kill('SIGKILL');
      };
      const timer = setTimeout(
        () => kill(`type-stripping took longer than ${this.limits.timeoutMs} ms`),
        this.limits.timeoutMs,
      );
      child.stdout?.on('data', (c: Buffer) => {
        outBytes += c.length;
        if (outBytes > cap) kill(`type-stripping produced more than ${cap} bytes`);
        else out.push(c);
      });
      child.stderr?.on('data', (c: Buffer) => {
        if (err.length < MAX_STDERR_BYTES) err += c.toString('utf8').slice(0, MAX_STDERR_BYTES - err.length);
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new HearthError('INTERNAL', `could not start esbuild to type-strip ${name}: ${e.message}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (killedFor) return reject(compileError(`${name}: the source is too complex: ${killedFor}`));
        if (code === 0) return resolve(Buffer.concat(out));
        const parsed = code === 1 ? errorsOf(name, err) : undefined;
        if (parsed) return reject(compileError(parsed));
        const why = /cannot allocate memory|out of memory|stack exceeds/i.test(err)
          ? `type-stripping needed more than ${this.limits.memoryMb} MiB (is it nested too deeply?)`
          : `esbuild failed (${signal ?? `exit ${code}`})`;
        reject(compileError(`${name}: the source is too complex: ${why}`));
      });
      child.stdin?.end(source);
    });
  }
}

let shared: TypeStripper | undefined;

/** The process-wide stripper (a bounded pool, like esbuild's own service it replaces). */
export function typeStripper(): TypeStripper {
  shared ??= new TypeStripper();
  return shared;
}
