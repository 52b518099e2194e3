import type { Strictness } from '../api/learning.js';

/**
 * What sessions and jobs ask before running input: throws INPUT_REJECTED (422) when the input fails
 * validation at the requested strictness (or the server's default); does nothing when neither asks.
 * Synchronous and in memory, so it runs before any sandbox is touched.
 */
export interface InputGate {
  check(input: string, strictness?: Strictness): void;
}
