import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HearthError } from '../src/errors/hearth-error.js';
import { LearningService, learningConfig } from '../src/learning/service.js';
import { loadThesaurusFile, Thesaurus } from '../src/learning/thesaurus.js';
import { editDistance, validateInput } from '../src/learning/validator.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

const input = 'gti status && git comit -m "x" && frobnicate --all && npm ci && python3 -m pytest';

describe('validation against the thesaurus', () => {
  const thesaurus = new Thesaurus();

  it('permissive: reports known and unknown terms with suggestions, refuses nothing', () => {
    const r = validateInput(thesaurus, input, 'permissive');
    expect(r.isValid).toBe(true);
    expect(r.matchedTerms).toEqual(['git', 'npm ci', 'python3 -m pytest']);
    expect(r.unknownTerms).toEqual(['gti', 'git comit', 'frobnicate']);
    expect(r.suggestions.slice(0, 2)).toEqual(['git', 'git commit']);
    expect(r.strictness).toBe('permissive');
    expect(r.message).toMatch(/^valid \(permissive\)/);
  });

  it('normal: refuses likely typos, lets an unknown word with nothing near it through', () => {
    expect(validateInput(thesaurus, input, 'normal').isValid).toBe(false);
    expect(validateInput(thesaurus, 'gti status', 'normal').suggestions).toEqual(['git']);
    const far = validateInput(thesaurus, 'frobnicate --all && git status', 'normal');
    expect(far).toMatchObject({ isValid: true, unknownTerms: ['frobnicate'], suggestions: [] });
  });

  it('strict: refuses any unknown command; known ones pass', () => {
    expect(validateInput(thesaurus, 'frobnicate --all', 'strict').isValid).toBe(false);
    const ok = validateInput(thesaurus, 'cd /src && git pull && cargo test --release | tee log', 'strict');
    expect(ok).toMatchObject({ isValid: true, unknownTerms: [] });
    expect(ok.matchedTerms).toEqual(['cd', 'git pull', 'cargo test', 'tee']);
  });

  it('the gate throws INPUT_REJECTED with the terms; no strictness asked and none by default: no check', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-validate-'));
    const store = await SqliteStore.open({ path: ':memory:' });
    try {
      const open = new LearningService({ store: store.learning });
      expect(() => open.check('frobnicate')).not.toThrow();
      let err: unknown;
      try {
        open.check('frobnicate', 'strict');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HearthError);
      expect((err as HearthError).status).toBe(422);
      expect((err as HearthError).toJSON()).toMatchObject({
        code: 'INPUT_REJECTED',
        unknownTerms: ['frobnicate'],
      });
      const strictByDefault = new LearningService({
        store: store.learning,
        config: learningConfig({ HEARTH_VALIDATE: 'strict' }),
      });
      expect(() => strictByDefault.check('frobnicate')).toThrow(HearthError);
      expect(() => strictByDefault.check('frobnicate', 'permissive')).not.toThrow();
      expect(() => learningConfig({ HEARTH_VALIDATE: 'loose' })).toThrow(/not a strictness/);

      // A thesaurus file adds its concepts to the default ones.
      const file = join(dir, 'extra.json');
      writeFileSync(
        file,
        JSON.stringify({ concepts: { internal: { terms: ['frobnicate'], synonyms: ['frob'] } } }),
      );
      const extended = new LearningService({ store: store.learning, config: { thesaurusPath: file } });
      expect(extended.validate('frob x && frobnicate y && git status', 'strict').isValid).toBe(true);
      writeFileSync(file, '{"concepts": {"x": {"terms": [1]}}}');
      expect(() => loadThesaurusFile(file)).toThrow(/is not a thesaurus/);
      writeFileSync(file, 'not json');
      expect(() => loadThesaurusFile(file)).toThrow(/is not JSON/);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('edit distance counts a swap of neighbours as one edit and gives up past the bound', () => {
    expect(editDistance('gti', 'git', 1)).toBe(1);
    expect(editDistance('comit', 'commit', 2)).toBe(1);
    expect(editDistance('kitten', 'sitting', 3)).toBe(3);
    expect(editDistance('abc', 'xyzxyz', 2)).toBe(3);
  });

  it('hostile input: huge, binary or deeply nested, answers without throwing', () => {
    const nested = `${'bash -c "'.repeat(50)}ls${'"'.repeat(50)}`;
    expect(() => validateInput(thesaurus, nested, 'strict')).not.toThrow();
    const junk = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919) % 256)).toString('latin1');
    const r = validateInput(thesaurus, junk, 'strict');
    expect(r.strictness).toBe('strict');
    expect(validateInput(thesaurus, '', 'strict')).toMatchObject({
      isValid: true,
      matchedTerms: [],
      unknownTerms: [],
    });
  });
});
