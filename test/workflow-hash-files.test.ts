/**
 * hashFiles(): hearth selects the same files as act for each of act's cases (act's digest is the
 * SHA-256 of the selected files' concatenated contents, so it is recomputed here from hearth's
 * selection), and digests them as GitHub's runner does.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestFiles, hashFilesInDirectory, selectFiles } from '../src/workflows/index.js';

const FILES: Record<string, string> = {
  'for-hashing-1.txt': 'Hello\n',
  'for-hashing-2.txt': 'World!\n',
  'for-hashing-3/data.txt': 'Knock knock!\n',
  'for-hashing-3/nested/nested-data.txt': 'Anybody home?\n',
};

/** act's expected digests (conformance/act/expressions.tsv, TestFunctionHashFiles). */
const ACT_CASES: Array<[string[], string]> = [
  [['**/non-extant-files'], ''],
  [['./for-hashing-1.txt'], '66a045b452102c59d840ec097d59d9467e13a3f34f6494e539ffd32c1bb35f18'],
  [['./for-hashing-*.txt'], '8e5935e7e13368cd9688fe8f48a0955293676a021562582c7e848dafe13fb046'],
  [
    ['./for-hashing-*.txt', '!./for-hashing-2.txt'],
    '66a045b452102c59d840ec097d59d9467e13a3f34f6494e539ffd32c1bb35f18',
  ],
  [['./for-hashing-**'], 'c418ba693753c84115ced0da77f876cddc662b9054f4b129b90f822597ee2f94'],
  [['./for-hashing-3/**'], '6f5696b546a7a9d6d42a449dc9a56bef244aaa826601ef27466168846139d2c2'],
  [
    ['./for-hashing-3/**/nested-data.txt'],
    '8ecadfb49f7f978d0a9f3a957e9c8da6cc9ab871f5203b5d9f9d1dc87d8af18c',
  ],
];

const concatenated = (paths: string[]) =>
  paths.length === 0
    ? ''
    : createHash('sha256')
        .update(paths.map((p) => FILES[p]).join(''))
        .digest('hex');

describe('hashFiles()', () => {
  it.each(ACT_CASES)('%j selects the files act hashed', (patterns, actDigest) => {
    expect(concatenated(selectFiles(Object.keys(FILES), patterns))).toBe(actDigest);
  });

  it('orders files depth-first by name and lets a later pattern re-include', () => {
    const paths = ['a-b/x', 'a/z', 'a/b/y', 'c'];
    expect(selectFiles(paths, ['**'])).toEqual(['a/b/y', 'a/z', 'a-b/x', 'c']);
    expect(selectFiles(paths, ['**', '!a/**', 'a/z'])).toEqual(['a/z', 'a-b/x', 'c']);
  });

  it("digests a host directory with GitHub's runner algorithm", async () => {
    const root = await mkdtemp(join(tmpdir(), 'hearth-wf-hash-'));
    try {
      for (const [path, content] of Object.entries(FILES)) {
        await mkdir(dirname(join(root, path)), { recursive: true });
        await writeFile(join(root, path), content);
      }
      const runner = digestFiles(['Hello\n', 'World!\n'].map((s) => Buffer.from(s)));
      // sha256(sha256(file 1) || sha256(file 2)), computed independently.
      expect(runner).toBe('56c352d06ebcf622658fb248292304a432b204d29e11ba76c96dbb647d3b73ad');
      expect(await hashFilesInDirectory(root, ['for-hashing-?.txt'])).toBe(runner);
      expect(await hashFilesInDirectory(root, ['nothing/**'])).toBe('');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
