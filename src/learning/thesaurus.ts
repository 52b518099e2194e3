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
const HAS_NON_ASCII = /[^\x00-\x7f]/;
/** What continues a word (a-z, 0-9, _): a term must not start or end next to one. NaN (an edge) does not. */
const isWordChar = (c: number) => (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95;

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
  /** Programs with known subcommands and those terms (`git` → `git commit`, `git push` …). */
  readonly #subcommands = new Map<string, string[]>();
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
    if (words.length > 1 && words[1] !== '-m') {
      const list = this.#subcommands.get(words[0] as string);
      if (list) list.push(t);
      else this.#subcommands.set(words[0] as string, [t]);
    }
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
    return this.#subcommands.has(program);
  }

  /** The known `program subcommand` terms of a program. */
  subcommandsOf(program: string): readonly string[] {
    return this.#subcommands.get(program) ?? [];
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
    const ascii = HAS_NON_ASCII.test(text) ? text.replace(NON_ASCII, ' ') : text;
    const hits: Array<{ start: number; end: number; pattern: string }> = [];
    for (const m of this.#matcher.iterate(ascii)) {
      if (isWordChar(ascii.charCodeAt(m.start - 1)) || isWordChar(ascii.charCodeAt(m.end))) continue;
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
