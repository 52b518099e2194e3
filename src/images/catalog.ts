import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../config/paths.js';
import { HearthError } from '../errors/hearth-error.js';

export interface ImageDef {
  name: string;
  description: string;
  /** Debian suite, e.g. `bookworm`. */
  suite: string;
  packages: string[];
}

export interface LanguageDef {
  name: string;
  aliases: string[];
  image: string;
  /** The file the submitted code is written to, relative to the work dir. */
  file: string;
  compile?: string[];
  run: string[];
  version: string[];
  /** `typescript`: type-stripped on the host with esbuild before it runs. */
  transpile?: 'typescript';
  env?: Record<string, string>;
}

export interface Catalog {
  images: Record<string, ImageDef>;
  languages: Record<string, LanguageDef>;
}

function fail(path: string, message: string): never {
  throw new HearthError('BAD_REQUEST', `catalog ${path}: ${message}`, {
    hint: 'Fix catalog.yaml; its header comment explains every field.',
  });
}

function strings(path: string, where: string, v: unknown, required = true): string[] {
  if (v === undefined && !required) return [];
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) {
    fail(path, `${where} must be a non-empty list of strings`);
  }
  return v as string[];
}

/** One entry of the YAML document, before it is checked. */
type Raw = Record<string, unknown>;

/** Parses and checks a catalog document. */
export function parseCatalog(text: string, path = 'catalog.yaml'): Catalog {
  const doc = parse(text) as {
    images?: Record<string, Raw | null>;
    languages?: Record<string, Raw | null>;
  } | null;
  if (!doc?.images || !doc.languages) fail(path, 'needs `images` and `languages`');
  const images: Record<string, ImageDef> = {};
  for (const [name, def] of Object.entries(doc.images)) {
    if (!/^[a-z][a-z0-9-]*$/.test(name))
      fail(path, `image name ${name} must be lowercase letters, digits, -`);
    images[name] = {
      name,
      description: String(def?.description ?? ''),
      suite: typeof def?.suite === 'string' ? def.suite : fail(path, `images.${name}.suite is missing`),
      packages: strings(path, `images.${name}.packages`, def?.packages),
    };
  }
  const languages: Record<string, LanguageDef> = {};
  const taken = new Map<string, string>();
  for (const [name, def] of Object.entries(doc.languages)) {
    const image = String(def?.image ?? '');
    if (!images[image]) fail(path, `languages.${name}.image names unknown image ${image}`);
    const lang: LanguageDef = {
      name,
      aliases: def?.aliases === undefined ? [] : strings(path, `languages.${name}.aliases`, def.aliases),
      image,
      file: typeof def?.file === 'string' ? def.file : fail(path, `languages.${name}.file is missing`),
      run: strings(path, `languages.${name}.run`, def?.run),
      version: strings(path, `languages.${name}.version`, def?.version),
    };
    if (def?.compile !== undefined) lang.compile = strings(path, `languages.${name}.compile`, def.compile);
    if (def?.transpile !== undefined) {
      if (def.transpile !== 'typescript') fail(path, `languages.${name}.transpile must be typescript`);
      lang.transpile = 'typescript';
    }
    if (def?.env !== undefined) {
      if (typeof def.env !== 'object' || def.env === null || Array.isArray(def.env)) {
        fail(path, `languages.${name}.env must be a map of names to values`);
      }
      lang.env = Object.fromEntries(Object.entries(def.env).map(([k, v]) => [k, String(v)]));
    }
    for (const key of [name, ...lang.aliases]) {
      const other = taken.get(key.toLowerCase());
      if (other) fail(path, `${key} names both ${other} and ${name}`);
      taken.set(key.toLowerCase(), name);
    }
    languages[name] = lang;
  }
  return { images, languages };
}

let cached: Catalog | undefined;

/** The catalog in force: `HEARTH_CATALOG` if set, else catalog.yaml at the project root. */
export function loadCatalog(
  path = process.env.HEARTH_CATALOG || join(projectRoot(), 'catalog.yaml'),
): Catalog {
  if (cached && !process.env.HEARTH_CATALOG) return cached;
  const catalog = parseCatalog(readFileSync(path, 'utf8'), path);
  if (!process.env.HEARTH_CATALOG) cached = catalog;
  return catalog;
}

/** Finds a language by name or alias, case-insensitively; throws UNKNOWN_LANGUAGE listing them all. */
export function resolveLanguage(catalog: Catalog, nameOrAlias: string): LanguageDef {
  const key = nameOrAlias.trim().toLowerCase();
  for (const lang of Object.values(catalog.languages)) {
    if (lang.name === key || lang.aliases.some((a) => a.toLowerCase() === key)) return lang;
  }
  const supported = Object.keys(catalog.languages).sort();
  throw new HearthError(
    'UNKNOWN_LANGUAGE',
    `unsupported language "${nameOrAlias}"; supported: ${supported.join(', ')}`,
    { details: { supported } },
  );
}

export function resolveImageDef(catalog: Catalog, name: string): ImageDef {
  const image = catalog.images[name];
  if (!image) {
    throw new HearthError(
      'UNKNOWN_IMAGE',
      `unknown image "${name}"; known: ${Object.keys(catalog.images).join(', ')}`,
    );
  }
  return image;
}
