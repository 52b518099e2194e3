import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../src/config/paths.js';
import { HearthError } from '../src/errors/hearth-error.js';
import { loadCatalog, resolveLanguage } from '../src/images/catalog.js';
import { prepareSource, type SourceInput } from '../src/images/source.js';

const catalog = loadCatalog();
const python = resolveLanguage(catalog, 'python');
const typescript = resolveLanguage(catalog, 'typescript');
const work = mkdtempSync(join(tmpdir(), 'hearth-source-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function files(input: SourceInput, lang = python): Promise<Record<string, string>> {
  const out = await prepareSource(lang, input);
  return Object.fromEntries(out.map((f) => [f.path, f.content.toString('utf8')]));
}

async function failure(input: SourceInput, lang = python): Promise<HearthError> {
  try {
    await prepareSource(lang, input);
  } catch (err) {
    expect(err).toBeInstanceOf(HearthError);
    return err as HearthError;
  }
  throw new Error('prepareSource accepted bad input');
}

describe('prepareSource', () => {
  it('writes code to the language file', async () => {
    expect(await files({ code: 'print(1)' })).toEqual({ 'main.py': 'print(1)' });
  });

  it('makes the first unnamed file the entry point and keeps named ones by name', async () => {
    expect(await files({ files: [{ content: 'import lib' }, { name: 'lib.py', content: 'x = 1' }] })).toEqual(
      {
        'main.py': 'import lib',
        'lib.py': 'x = 1',
      },
    );
  });

  it('writes files by their names when all are named, in subdirectories too', async () => {
    expect(
      await files({
        files: [
          { name: 'app.py', content: 'a' },
          { name: 'pkg//mod.py', content: 'b' },
        ],
      }),
    ).toEqual({ 'app.py': 'a', 'pkg/mod.py': 'b' });
  });

  it('decodes base64 content byte for byte', async () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    const out = await prepareSource(python, {
      code: 'print(1)',
      files: [{ name: 'data.bin', content: bytes.toString('base64'), encoding: 'base64' }],
    });
    expect(out.find((f) => f.path === 'data.bin')?.content.equals(bytes)).toBe(true);
  });

  it.each([
    ['an absolute path', '/etc/passwd', /must be relative/],
    ['a parent reference', 'a/../../x.py', /must not contain "\.\."/],
    ['a backslash parent reference', '..\\x.py', /must not contain "\.\."/],
    ['a directory name', 'pkg/', /names no file/],
  ])('refuses %s', async (_, name, message) => {
    const err = await failure({ code: 'print(1)', files: [{ name, content: 'x' }] });
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toMatch(message);
  });

  it('refuses unnamed extra files beside code, duplicates and bad encodings', async () => {
    expect((await failure({ code: 'print(1)', files: [{ content: 'x' }] })).message).toMatch(/needs a name/);
    expect((await failure({ code: 'x', files: [{ name: 'main.py', content: 'y' }] })).message).toMatch(
      /two files/,
    );
    const bad = { name: 'a', content: 'x', encoding: 'latin1' } as unknown as {
      name: string;
      content: string;
    };
    expect((await failure({ code: 'x', files: [bad] })).message).toMatch(/encoding must be utf8 or base64/);
  });

  it.each([
    ['no input', {}],
    ['blank code', { code: '  \n\t ' }],
    ['blank code and blank files', { code: '', files: [{ content: ' ' }, { name: 'b.py', content: '\n' }] }],
  ])('reports EMPTY_CODE for %s', async (_, input) => {
    expect((await failure(input as SourceInput)).code).toBe('EMPTY_CODE');
  });

  it('type-strips TypeScript into main.mjs that node runs', async () => {
    const out = await files(
      { code: 'const n: number = 41;\ninterface P { x: number }\nconsole.log(n + 1);' },
      typescript,
    );
    expect(out['main.ts']).toContain(': number');
    expect(out['main.mjs']).not.toContain(': number');
    writeFileSync(join(work, 'main.mjs'), out['main.mjs'] ?? '');
    expect(execFileSync(process.execPath, [join(work, 'main.mjs')], { encoding: 'utf8' })).toBe('42\n');
  });

  it('turns a TypeScript syntax error into a compile-stage VALIDATION_FAILED', async () => {
    const err = await failure({ code: 'const x: number = ;\n' }, typescript);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toMatch(/main\.ts:1:\d+: Unexpected ";"/);
    expect(err.details?.stage).toBe('compile');
  });

  it('fails a source too complex to type-strip (300,000 nested parentheses) as a compile error; the next strips', async () => {
    const n = 300_000;
    const err = await failure({ code: `let x = ${'('.repeat(n)}1${')'.repeat(n)};` }, typescript);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.details?.stage).toBe('compile');
    expect(err.message).toMatch(/main\.ts: the source is too complex/);
    const out = await files({ code: 'const n: number = 1;\nconsole.log(n);' }, typescript);
    expect(out['main.mjs']).toBe('const n = 1;\nconsole.log(n);\n');
  });
});

describe('examples', () => {
  it.each(Object.values(catalog.languages).map((l) => [l.name, l] as const))(
    '%s has examples/hello that prepares into its run files',
    async (_, lang) => {
      const path = join(projectRoot(), 'examples', `hello${extname(lang.file)}`);
      expect(existsSync(path), path).toBe(true);
      const code = readFileSync(path, 'utf8');
      expect(code).toContain('Hello, World!');
      const out = await files({ code }, lang);
      expect(out[lang.file]).toBe(code);
      // The run (or compile) command names a file that prepareSource wrote.
      const named = [...(lang.compile ?? []), ...lang.run].filter((arg) => arg in out);
      expect(named.length, `${lang.name} commands name a prepared file`).toBeGreaterThan(0);
    },
  );
});
