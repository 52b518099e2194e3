/**
 * Bounds on what an interpreter context may send back, shared by the guest (which cuts to them) and
 * the host (whose schemas refuse anything past them). Lengths count UTF-16 code units, as
 * JavaScript strings do. Together the caps keep one result under the 4 MiB frame limit.
 */
export const REPL_LIMITS = {
  /** stdout + stderr bytes of one execution; past it the output is dropped and flagged. */
  maxOutputBytes: 1024 * 1024,
  /** `text/plain` (the `repr` / `util.inspect` of the value), also the result's `text`. */
  maxTextChars: 256 * 1024,
  /** `text/html` (e.g. a pandas DataFrame's `_repr_html_`). */
  maxHtmlChars: 512 * 1024,
  /** `application/json`, as JSON text. */
  maxJsonChars: 256 * 1024,
  /** `image/png`, base64: about 1.5 MB of PNG. */
  maxPngBase64Chars: 2 * 1024 * 1024,
  /** An error's `name`. */
  maxErrorNameChars: 256,
  /** An error's `value` (its message) and its `traceback`, each. */
  maxErrorTextChars: 64 * 1024,
  /** Display results (`plt.show()`, `display(x)`) of one execution; later ones are dropped. */
  maxDisplays: 8,
  /**
   * All display results of one execution together, in characters, on top of the main result: the
   * whole answer must stay under the 4 MiB frame limit.
   */
  maxDisplayChars: 512 * 1024,
  /** Variables of one execution's `env` (E2B's `env_vars`), and the characters of each name and value. */
  maxEnvVars: 256,
  maxEnvChars: 32 * 1024,
  /** Live contexts per sandbox. */
  maxContexts: 16,
  /** Code of one execution. */
  maxCodeChars: 1024 * 1024,
  /** The longest `timeoutMs` a run may ask for (one hour). */
  maxTimeoutMs: 60 * 60 * 1000,
  /** `timeoutMs` when a run gives none. */
  defaultTimeoutMs: 60_000,
  /** How long an interrupted execution may take to stop before its interpreter is killed. */
  interruptGraceMs: 2000,
  /** How long a new interpreter may take to say it is ready. */
  startTimeoutMs: 15_000,
} as const;
