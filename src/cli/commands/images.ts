import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { BuildProgress } from '../../images/builder.js';
import { buildImage } from '../../images/builder.js';
import { loadCatalog } from '../../images/catalog.js';
import { listImages, removeImage } from '../../images/store.js';

/**
 * Where each phase sits on one build's 0–100 bar. debootstrap installs and configures in two
 * rounds (required packages, then the rest): the first half of each phase is round one.
 */
function overallPercent(e: BuildProgress): number {
  const p = e.percent ?? 0;
  const span = (from: number, to: number, part: number) => from + ((to - from) * part) / 100;
  switch (e.phase) {
    case 'resolve':
      return span(0, 10, p);
    case 'download':
      return span(10, 35, p);
    case 'extract':
      return span(35, 45, p);
    case 'install':
      return p <= 50 ? span(45, 55, p * 2) : span(65, 80, (p - 50) * 2);
    case 'configure':
      return p <= 50 ? span(55, 65, p * 2) : span(80, 95, (p - 50) * 2);
    case 'finalize':
      return span(95, 100, p);
    case 'done':
      return 100;
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  return `${Math.round(bytes / 1e6)} MB`;
}

/**
 * Shows one build's progress: a bar on a terminal, else a line per phase and per 10 %. Nothing is
 * shown for an image that is up to date (its only event is `done`).
 */
function progressDisplay(name: string): { onProgress: (e: BuildProgress) => void; stop: () => void } {
  let overall = 0;
  let lastLine = '';
  let bar: SingleBar | undefined;
  const onProgress = (e: BuildProgress) => {
    if (e.phase === 'done') return;
    overall = Math.max(overall, overallPercent(e));
    if (!process.stdout.isTTY) {
      const line = `${e.phase} ${Math.floor(overall / 10)}`;
      if (line === lastLine) return;
      lastLine = line;
      process.stdout.write(`${name}: ${String(Math.floor(overall)).padStart(3)}% ${e.phase}: ${e.message}\n`);
      return;
    }
    if (!bar) {
      bar = new SingleBar({
        format: `${name.padEnd(10)} [{bar}] {percentage}% {phase}: {message}`,
        barsize: 30,
        hideCursor: true,
        clearOnComplete: false,
      });
      bar.start(100, 0, { phase: e.phase, message: '' });
    }
    bar.update(Math.floor(overall), { phase: e.phase, message: e.message.slice(0, 50) });
  };
  return { onProgress, stop: () => bar?.stop() };
}

async function build(names: string[], opts: { force?: boolean }): Promise<void> {
  const catalog = loadCatalog();
  const targets = names.length > 0 ? names : Object.keys(catalog.images);
  const abort = new AbortController();
  // Ctrl-C or a kill stops debootstrap and removes the partial build before the process exits.
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const name of targets) {
      const display = progressDisplay(name);
      let result: Awaited<ReturnType<typeof buildImage>>;
      try {
        result = await buildImage(name, {
          catalog,
          force: opts.force,
          signal: abort.signal,
          onProgress: display.onProgress,
        });
      } finally {
        display.stop();
      }
      const { image, built } = result;
      if (!built) {
        process.stdout.write(`${name} is up to date (${image.hash}, ${formatBytes(image.meta.sizeBytes)})\n`);
      } else {
        const seconds = (image.meta.buildMs / 1000).toFixed(1);
        process.stdout.write(
          `${name} built in ${seconds} s: ${image.dir} (${formatBytes(image.meta.sizeBytes)})\n`,
        );
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function list(opts: { json?: boolean }): void {
  const catalog = loadCatalog();
  const rows = listImages({ catalog }).map(({ def, built, stale }) => ({
    name: def.name,
    description: def.description,
    built: built !== undefined,
    hash: built?.hash,
    sizeBytes: built?.meta.sizeBytes,
    builtAt: built?.meta.builtAt,
    languages: Object.values(catalog.languages)
      .filter((l) => l.image === def.name)
      .map((l) => l.name),
    stale,
  }));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  for (const r of rows) {
    const state = r.built ? `built ${r.hash} ${formatBytes(r.sizeBytes ?? 0)}` : 'not built';
    process.stdout.write(`${r.name.padEnd(10)} ${state.padEnd(36)} ${r.description}\n`);
    process.stdout.write(`${''.padEnd(10)} languages: ${r.languages.join(', ')}\n`);
    for (const dir of r.stale) process.stdout.write(`${''.padEnd(10)} old version kept (in use): ${dir}\n`);
  }
  if (rows.some((r) => !r.built)) process.stdout.write('build with `hearth images build [names...]`\n');
}

export function registerImages(program: Command): void {
  const images = program.command('images').description('Build, list and remove sandbox images');
  images
    .command('list', { isDefault: true })
    .description('List catalog images: built or not, hash, size, languages')
    .option('--json', 'print the list as JSON')
    .action(list);
  images
    .command('build')
    .argument('[names...]', 'images to build (default: every catalog image)')
    .description('Build images with debootstrap; an image whose inputs did not change is kept')
    .option('--force', 'rebuild even when up to date')
    .action(build);
  images
    .command('rm')
    .argument('<name>', 'image to remove')
    .description('Remove every built version of an image that no sandbox uses')
    .action(async (name: string) => {
      const { removed } = await removeImage(name);
      process.stdout.write(removed.length ? `removed ${removed.join(', ')}\n` : `${name} was not built\n`);
    });
}
