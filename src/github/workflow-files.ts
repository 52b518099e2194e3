import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';

/** A workflow file of a checkout. */
export interface WorkflowFile {
  /** `.github/workflows/ci.yml`. */
  path: string;
  /** Its `name:`, or the path when it has none. */
  name: string;
  yaml: string;
}

const DIR = '.github/workflows';
/** The repository is not ours: a checkout may hold anything, so what is read is bounded. */
const MAX_FILES = 200;
const MAX_FILE_BYTES = 1024 * 1024;

function nameOf(yaml: string, path: string): string {
  try {
    const doc = parse(yaml, { maxAliasCount: 100 }) as { name?: unknown } | null;
    if (doc && typeof doc.name === 'string' && doc.name.trim()) return doc.name.trim().slice(0, 200);
  } catch {}
  return path;
}

/**
 * The workflow files of a checkout: the regular `*.yml` / `*.yaml` files directly in
 * `.github/workflows` (GitHub reads no subdirectories), in name order; symlinks, files past 1 MiB
 * and files past the 200th are skipped.
 */
export async function readWorkflows(checkoutDir: string): Promise<WorkflowFile[]> {
  let names: string[];
  try {
    names = await readdir(join(checkoutDir, DIR));
  } catch {
    return [];
  }
  const out: WorkflowFile[] = [];
  for (const file of names.filter((n) => /\.ya?ml$/.test(n)).sort()) {
    if (out.length >= MAX_FILES) break;
    const full = join(checkoutDir, DIR, file);
    const st = await lstat(full).catch(() => undefined);
    if (!st?.isFile() || st.size > MAX_FILE_BYTES) continue;
    const yaml = await readFile(full, 'utf8');
    const path = `${DIR}/${file}`;
    out.push({ path, name: nameOf(yaml, path), yaml });
  }
  return out;
}
