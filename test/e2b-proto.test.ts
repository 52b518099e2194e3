import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('envd service code', () => {
  it('is what proto/envd generates (scripts/gen-envd.sh), so the committed code and the protos agree', async () => {
    const out = mkdtempSync(join(tmpdir(), 'hearth-envd-gen-'));
    try {
      await run('bash', ['scripts/gen-envd.sh', out]);
      const made = readdirSync(out).sort();
      expect(made).toEqual(readdirSync('src/e2b/gen').sort());
      for (const f of made) {
        expect(readFileSync(join(out, f), 'utf8'), f).toBe(readFileSync(join('src/e2b/gen', f), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
