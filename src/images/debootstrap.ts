import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export type BuildPhase = 'resolve' | 'download' | 'extract' | 'install' | 'configure' | 'finalize' | 'done';

/** One step of an image build, for a progress display. */
export interface BuildProgress {
  phase: BuildPhase;
  /** 0–100 within the phase, when known. */
  percent?: number;
  message: string;
}

/**
 * debootstrap's progress names (its `--debian-installer` output) mapped to build phases, with the
 * part of the phase each covers: debootstrap unpacks and configures twice (required packages, then
 * the rest), so each round is half of its phase.
 */
const PHASES: Record<string, { phase: BuildPhase; from: number; to: number }> = {
  DOWNREL: { phase: 'resolve', from: 0, to: 10 },
  DOWNRELSIG: { phase: 'resolve', from: 10, to: 20 },
  DOWNPKGS: { phase: 'resolve', from: 20, to: 70 },
  DOWNMAINPKGS: { phase: 'resolve', from: 20, to: 70 },
  SIZEDEBS: { phase: 'resolve', from: 70, to: 100 },
  DOWNDEBS: { phase: 'download', from: 0, to: 100 },
  EXTRACTPKGS: { phase: 'extract', from: 0, to: 100 },
  INSTCORE: { phase: 'install', from: 0, to: 0 },
  UNPACKREQ: { phase: 'install', from: 0, to: 50 },
  CONFREQ: { phase: 'configure', from: 0, to: 50 },
  UNPACKBASE: { phase: 'install', from: 50, to: 100 },
  CONFBASE: { phase: 'configure', from: 50, to: 100 },
};

/** The Debian mirror: HEARTH_DEBIAN_MIRROR, else the host's apt sources, else deb.debian.org. */
export function debianMirror(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HEARTH_DEBIAN_MIRROR) return env.HEARTH_DEBIAN_MIRROR;
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) files.push(...readdirSync(dir).map((f) => join(dir, f)));
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    // One-line format: `deb [opts] URI suite components`; deb822: `URIs: URI` in a stanza with a main suite.
    for (const stanza of text.split(/\n\s*\n/)) {
      const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+\s+.*\bmain\b/m.exec(stanza);
      if (line?.[1] && /\/debian\/?$/.test(line[1])) return line[1];
      const uri = /^URIs:\s*(\S+)/im.exec(stanza);
      if (uri?.[1] && /\/debian\/?$/.test(uri[1]) && /^Types:.*\bdeb\b/im.test(stanza)) return uri[1];
    }
  }
  return 'http://deb.debian.org/debian';
}

/** The installed debootstrap's version, or `unknown`. */
export function debootstrapVersion(): string {
  const out = spawnSync('debootstrap', ['--version'], { encoding: 'utf8' });
  return /debootstrap\s+(\S+)/.exec(out.stdout ?? '')?.[1] ?? 'unknown';
}

/** Turns debootstrap's printf-style format and arguments into a line of text. */
function format(fmt: string, args: string[]): string {
  let i = 0;
  return fmt.replace(/%s/g, () => args[i++] ?? '').trim();
}

export interface DebootstrapOptions {
  suite: string;
  target: string;
  packages: string[];
  /** Absolute path: downloaded .debs are kept here between builds. */
  cacheDir: string;
  mirror: string;
  /** Everything debootstrap prints goes here. */
  log: WriteStream;
  onProgress: (e: BuildProgress) => void;
  signal?: AbortSignal;
  /** After SIGTERM, SIGKILL follows after this long. @default 5000 */
  killGraceMs?: number;
}

/**
 * Runs `debootstrap --variant=minbase` with its machine-readable progress on fd 3 (`P: now end NAME`
 * and `I:`/`E:` message blocks). Resolves on success; rejects with the last error it reported.
 */
export function runDebootstrap(opts: DebootstrapOptions): Promise<void> {
  const args = [
    '--debian-installer',
    '--variant=minbase',
    `--include=${opts.packages.join(',')}`,
    `--cache-dir=${opts.cacheDir}`,
    opts.suite,
    opts.target,
    opts.mirror,
  ];
  opts.log.write(`$ debootstrap ${args.join(' ')}\n`);
  // Its own process group, so stopping it stops its dpkg and subshells too.
  const child = spawn('debootstrap', args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true });
  child.stdout?.pipe(opts.log, { end: false });
  child.stderr?.pipe(opts.log, { end: false });
  let lastError = '';
  let lastInfo = 'starting debootstrap';
  let block: { kind: string; args: string[] } | undefined;
  const onLine = (line: string) => {
    const m = /^([A-Z]{1,2}): ?(.*)$/.exec(line);
    if (!m) return;
    const [, tag = '', rest = ''] = m;
    if (tag === 'P') {
      const [now = '0', end = '0', name = ''] = rest.split(' ');
      const span = PHASES[name];
      const total = Number(end);
      if (span && total > 0) {
        const part = Math.min(1, Number(now) / total);
        opts.onProgress({
          phase: span.phase,
          percent: span.from + (span.to - span.from) * part,
          message: lastInfo,
        });
      }
    } else if (tag === 'I' || tag === 'E' || tag === 'W') {
      block = { kind: tag, args: [] };
    } else if ((tag === 'IA' || tag === 'EA' || tag === 'WA') && block) {
      block.args.push(rest);
    } else if ((tag === 'IF' || tag === 'EF' || tag === 'WF') && block) {
      const text = format(rest, block.args);
      opts.log.write(`${block.kind}: ${text}\n`);
      if (block.kind === 'E') lastError = text;
      if (block.kind === 'I') lastInfo = text;
      block = undefined;
    }
  };
  // Progress and messages come on fd 3; errors found before debootstrap sets that up come on stdout/stderr.
  for (const stream of [child.stdio[3], child.stdout, child.stderr]) {
    if (stream && 'on' in stream)
      createInterface({ input: stream as NodeJS.ReadableStream }).on('line', onLine);
  }
  let killTimer: NodeJS.Timeout | undefined;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const onAbort = () => {
    killGroup('SIGTERM');
    killTimer = setTimeout(() => killGroup('SIGKILL'), opts.killGraceMs ?? 5000);
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  return new Promise((resolve, reject) => {
    child.on('error', (err) => reject(new Error(`cannot run debootstrap: ${err.message}`)));
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (opts.signal?.aborted) reject(new Error('build cancelled'));
      else if (code === 0) resolve();
      else reject(new Error(lastError || `debootstrap exited with ${signal ?? `code ${code}`}`));
    });
  });
}
