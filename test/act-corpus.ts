import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The act-derived workflow corpus: `../shared/conformance/act` beside the checkout, or HEARTH_ACT_CORPUS. */
export const ACT =
  process.env.HEARTH_ACT_CORPUS ??
  resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'conformance', 'act');
