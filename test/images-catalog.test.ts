import { describe, expect, it } from 'vitest';
import { loadCatalog, parseCatalog, resolveImageDef, resolveLanguage } from '../src/images/catalog.js';
import { imageHash } from '../src/images/store.js';

const base = `
images:
  default: { description: d, suite: bookworm, packages: [python3] }
languages:
  python: { aliases: [py], image: default, file: main.py, run: [python3, main.py], version: [python3, --version] }
`;

function parseError(text: string): { code?: string; message: string } {
  try {
    parseCatalog(text, 'test.yaml');
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('parseCatalog accepted a bad catalog');
}

describe('catalog', () => {
  it('parses a minimal catalog', () => {
    const catalog = parseCatalog(base);
    expect(catalog.images.default?.packages).toEqual(['python3']);
    expect(resolveLanguage(catalog, 'PY').name).toBe('python');
  });

  it.each([
    ['no sections', 'images: {}', /needs `images` and `languages`/],
    ['a bad image name', base.replace('  default:', '  Bad_Name:'), /image name Bad_Name must be lowercase/],
    ['a missing suite', base.replace('suite: bookworm, ', ''), /images\.default\.suite is missing/],
    [
      'empty packages',
      base.replace('[python3] }', '[] }'),
      /images\.default\.packages must be a non-empty list/,
    ],
    [
      'an unknown image',
      base.replace('image: default', 'image: nope'),
      /languages\.python\.image names unknown image nope/,
    ],
    ['a missing file', base.replace('file: main.py, ', ''), /languages\.python\.file is missing/],
    [
      'a run that is not a list',
      base.replace('run: [python3, main.py]', 'run: python3'),
      /languages\.python\.run must be/,
    ],
    [
      'a bad transpile',
      base.replace('file: main.py,', 'file: main.py, transpile: coffee,'),
      /transpile must be typescript/,
    ],
    [
      'a duplicate alias',
      base.replace('aliases: [py]', 'aliases: [py, PYTHON]'),
      /PYTHON names both python and python/,
    ],
  ])('rejects %s with a message naming the field', (_, text, message) => {
    const err = parseError(text);
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/^catalog test\.yaml: /);
    expect(err.message).toMatch(message);
  });

  it('resolves every name and alias of the real catalog, case-insensitively', () => {
    const catalog = loadCatalog();
    for (const lang of Object.values(catalog.languages)) {
      for (const key of [lang.name, ...lang.aliases, lang.name.toUpperCase(), ` ${lang.name} `]) {
        expect(resolveLanguage(catalog, key).name, key).toBe(lang.name);
      }
      expect(catalog.images[lang.image], `${lang.name}.image`).toBeDefined();
    }
  });

  it('lists the supported languages when one is unknown', () => {
    const catalog = loadCatalog();
    expect(() => resolveLanguage(catalog, 'cobol')).toThrowError(
      /unsupported language "cobol"; supported: .*python/,
    );
    try {
      resolveLanguage(catalog, 'cobol');
    } catch (err) {
      expect((err as { code: string }).code).toBe('UNKNOWN_LANGUAGE');
      expect((err as { details: { supported: string[] } }).details.supported).toEqual(
        Object.keys(catalog.languages).sort(),
      );
    }
    expect(() => resolveImageDef(catalog, 'nope')).toThrowError(
      /unknown image "nope"; known: default, compiled/,
    );
  });

  it('runs TypeScript from the type-stripped main.mjs', () => {
    const ts = resolveLanguage(loadCatalog(), 'ts');
    expect(ts.transpile).toBe('typescript');
    expect(ts.run).toEqual(['node', 'main.mjs']);
  });
});

describe('imageHash', () => {
  const def = { name: 'default', description: 'x', suite: 'bookworm', packages: ['python3', 'bash'] };

  it('is 16 hex chars and stable', () => {
    expect(imageHash(def)).toMatch(/^[0-9a-f]{16}$/);
    expect(imageHash({ ...def })).toBe(imageHash(def));
  });

  it('ignores package order, repeats and the description', () => {
    expect(imageHash({ ...def, packages: ['bash', 'python3', 'bash'] })).toBe(imageHash(def));
    expect(imageHash({ ...def, description: 'other words' })).toBe(imageHash(def));
  });

  it('changes with the packages, the suite and the name', () => {
    const h = imageHash(def);
    expect(imageHash({ ...def, packages: ['python3'] })).not.toBe(h);
    expect(imageHash({ ...def, packages: [...def.packages, 'curl'] })).not.toBe(h);
    expect(imageHash({ ...def, suite: 'trixie' })).not.toBe(h);
    expect(imageHash({ ...def, name: 'other' })).not.toBe(h);
  });
});
