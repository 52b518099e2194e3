import { readFileSync } from 'node:fs';
import AhoCorasick from 'modern-ahocorasick';
import { HearthError } from '../errors/hearth-error.js';
import defaultDocument from './default-thesaurus.json' with { type: 'json' };

/** The thesaurus file: concept → the terms that name it and their synonyms. */
export interface ThesaurusDocument {
  version?: number;
  description?: string;
  concepts: Record<string, { terms: string[]; synonyms?: string[] }>;
}

const NON_ASCII = /[^\x00-\x7f]/g;
/** What continues a word: a term must not start or end next to one. */
const WORD_CHAR = /[a-z0-9_]/;

/** Longest term kept; a longer one is not a command name. */
const MAX_TERM_CHARS = 100;

function checkDocument(doc: unknown, source: string): ThesaurusDocument {
  const concepts = (doc as ThesaurusDocument | null)?.concepts;
  const ok =
    typeof concepts === 'object' &&
    concepts !== null &&
    Object.values(concepts).every(
      (c) =>
        Array.isArray(c?.terms) &&
        c.terms.every((t) => typeof t === 'string') &&
        (c.synonyms === undefined ||
          (Array.isArray(c.synonyms) && c.synonyms.every((t) => typeof t === 'string'))),
    );
  if (!ok)
    throw new HearthError('VALIDATION_FAILED', `${source} is not a thesaurus`, {
      hint: 'A thesaurus is {"concepts": {"<concept>": {"terms": ["…"], "synonyms": ["…"]}}}.',
    });
  return doc as ThesaurusDocument;
}

/** Reads a thesaurus file (HEARTH_THESAURUS); its concepts are added to the default ones. */
export function loadThesaurusFile(path: string): ThesaurusDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new HearthError(
      'VALIDATION_FAILED',
      `cannot read the thesaurus ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  try {
    return checkDocument(JSON.parse(text), path);
  } catch (err) {
    if (err instanceof HearthError) throw err;
    throw new HearthError('VALIDATION_FAILED', `the thesaurus ${path} is not JSON`, { cause: err });
  }
}

export const defaultThesaurus = (): ThesaurusDocument =>
  checkDocument(defaultDocument, 'the default thesaurus');

/**
 * Known vocabulary: every term and synonym (lower case), the concept each belongs to, and the
 * programs they start with. The Aho–Corasick matcher is compiled lazily and again only after new
 * terms were learned, so learning a command costs a Set insert, not a rebuild.
 */
export class Thesaurus {
  readonly #concept = new Map<string, string>();
  readonly #programs = new Set<string>();
  /** Programs with known subcommands (`git` → has `git commit` …). */
  readonly #withSubcommands = new Set<string>();
  #matcher: AhoCorasick | undefined;

  constructor(docs: readonly ThesaurusDocument[] = [defaultThesaurus()]) {
    for (const doc of docs) {
      for (const [concept, c] of Object.entries(doc.concepts)) {
        for (const t of [...c.terms, ...(c.synonyms ?? [])]) this.add(t, concept);
      }
    }
  }

  get size(): number {
    return this.#concept.size;
  }

  /** Adds a term (a learned command goes under the concept `learned`); false when it was known or unfit. */
  add(term: string, concept = 'learned'): boolean {
    const t = term.trim().toLowerCase().replace(/\s+/g, ' ');
    if (!t || t.length > MAX_TERM_CHARS || this.#concept.has(t)) return false;
    this.#concept.set(t, concept);
    const words = t.split(' ');
    this.#programs.add(words[0] as string);
    if (words.length > 1 && words[1] !== '-m') this.#withSubcommands.add(words[0] as string);
    this.#matcher = undefined;
    return true;
  }

  has(term: string): boolean {
    return this.#concept.has(term);
  }

  conceptOf(term: string): string | undefined {
    return this.#concept.get(term);
  }

  isProgram(word: string): boolean {
    return this.#programs.has(word);
  }

  hasSubcommands(program: string): boolean {
    return this.#withSubcommands.has(program);
  }

  /** Terms of the same concept (for alternatives). */
  sameConcept(term: string): string[] {
    const concept = this.#concept.get(term);
    if (!concept || concept === 'learned') return [];
    return [...this.#concept].filter(([t, c]) => c === concept && t !== term).map(([t]) => t);
  }

  /** Every known term, for nearest-term suggestions. */
  terms(): IterableIterator<string> {
    return this.#concept.keys();
  }

  programs(): IterableIterator<string> {
    return this.#programs.values();
  }

  /**
   * Known terms in `text` (lower case), whole words only, the longest where they overlap, in order.
   * Characters outside ASCII become spaces first (offsets stay put): no term has them, and the
   * matcher's grapheme segmentation of non-ASCII text costs a hundred times its ASCII scan.
   */
  match(text: string): string[] {
    this.#matcher ??= new AhoCorasick([...this.#concept.keys()]);
    const ascii = text.replace(NON_ASCII, ' ');
    const hits: Array<{ start: number; end: number; pattern: string }> = [];
    for (const m of this.#matcher.iterate(ascii)) {
      if (WORD_CHAR.test(ascii[m.start - 1] ?? ' ') || WORD_CHAR.test(ascii[m.end] ?? ' ')) continue;
      hits.push(m);
    }
    hits.sort((a, b) => a.start - b.start || b.end - a.end);
    const seen = new Set<string>();
    let until = -1;
    for (const h of hits) {
      if (h.start < until) continue;
      seen.add(h.pattern);
      until = h.end;
    }
    return [...seen];
  }
}
