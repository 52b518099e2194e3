/**
 * Every catalog language runs its examples/hello.<ext> through the bwrap backend's one-shot path,
 * with the catalog's compile and run commands, and prints `Hello, World!`.
 */
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadBackend } from '../src/backends/registry.js';
import { projectRoot } from '../src/config/paths.js';
import { loadCatalog } from '../src/images/catalog.js';
import { prepareSource } from '../src/images/source.js';
import { findImage } from '../src/images/store.js';

const catalog = loadCatalog();
const backend = await loadBackend('bwrap');

describe('examples/hello.* on bwrap', () => {
  afterAll(async () => {
    await backend.close?.();
  });

  for (const lang of Object.values(catalog.languages)) {
    const example = join(projectRoot(), 'examples', `hello${extname(lang.file)}`);
    test(`${lang.name}: ${example.slice(projectRoot().length + 1)} prints Hello, World!`, async () => {
      if (!findImage(lang.image)) {
        throw new Error(
          `image "${lang.image}" is not built: run \`hearth images build ${lang.image}\` first`,
        );
      }
      const files = await prepareSource(lang, { code: readFileSync(example, 'utf8') });
      const limits = { timeoutMs: 120_000, memoryMb: 2048, maxOutputBytes: 1 << 20 };
      const steps = [...(lang.compile ? [lang.compile] : []), lang.run].map((argv) => ({
        argv,
        env: lang.env,
        limits,
      }));
      const results = await backend.runOnce?.(
        { image: lang.image, memoryMb: 2048, diskMb: 512 },
        { files, steps },
      );
      const last = results?.at(-1);
      const why = results
        ?.map((r) => `exit ${r.exitCode ?? r.signal}: ${r.stderr.toString().slice(0, 2000)}`)
        .join('\n');
      expect(results?.length, why).toBe(steps.length);
      expect(last?.exitCode, why).toBe(0);
      expect(last?.stdout.toString().split('\n')[0], why).toBe('Hello, World!');
    });
  }
});
