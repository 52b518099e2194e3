/**
 * Before any test file: every catalog image is built (a no-op, under a second, when the cached
 * version matches its definition) and the bundles the sandboxes run are current.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { distDir } from '../src/config/paths.js';
import { buildImage } from '../src/images/builder.js';
import { loadCatalog } from '../src/images/catalog.js';

export default async function setup(): Promise<void> {
  for (const file of ['agent.js', 'hearth-exec']) {
    if (!existsSync(join(distDir(), file)))
      throw new Error(`dist/${file} is missing: run \`npm run build\` first`);
  }
  for (const name of Object.keys(loadCatalog().images)) {
    let last = '';
    const { built, image } = await buildImage(name, {
      onProgress: (e) => {
        const line = `${e.phase}${e.percent === undefined ? '' : ` ${Math.floor(e.percent / 10) * 10}%`}`;
        if (line !== last) process.stderr.write(`[images] ${name}: ${line} ${e.message ?? ''}\n`);
        last = line;
      },
    });
    if (built) process.stderr.write(`[images] built ${name} → ${image.dir}\n`);
  }
}
