import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

/** Every file and package the entry loads, as esbuild resolves it (type-only imports are erased). */
async function importGraph(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

describe('the SDK entry', () => {
  it('loads neither the server nor the store: no Fastify, no SQLite, no Kysely', async () => {
    const files = await importGraph('src/sdk/index.ts');
    // The graph is real: the SDK's own files are in it (the contract's types are erased).
    expect(files).toContain('src/sdk/sandbox.ts');
    expect(files).toContain('src/sdk/sessions-client.ts');
    const forbidden = files.filter((f) =>
      /node_modules\/(fastify|@fastify|better-sqlite3|kysely)\/|^src\/(server|store|jobs\/service)/.test(f),
    );
    expect(forbidden).toEqual([]);
  });

  it('the check itself sees Fastify and SQLite where they are loaded', async () => {
    const files = await importGraph('src/server/app.ts');
    expect(files.some((f) => f.includes('node_modules/fastify/'))).toBe(true);
    const store = await importGraph('src/store/sqlite-store.ts');
    expect(store.some((f) => f.includes('node_modules/better-sqlite3/'))).toBe(true);
  });
});
