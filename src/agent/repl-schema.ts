/**
 * The shapes of what the guest agent sends back for interpreter contexts (`repl-*` requests), as
 * TypeBox schemas: the host checks every such value against them (guest-messages.ts) before
 * believing it. The caps in REPL_LIMITS are part of the shape, so a guest that sends more is
 * refused (AGENT_PROTOCOL, the connection ends), not trimmed.
 */
import { type Static, Type } from '@sinclair/typebox';
import { REPL_LIMITS as L } from './repl-limits.js';

export const ReplLanguage = Type.Union([Type.Literal('python'), Type.Literal('javascript')]);
export type ReplLanguage = Static<typeof ReplLanguage>;

const ContextId = Type.String({ pattern: '^ctx-[0-9a-f]{1,32}$', maxLength: 36 });

export const ReplContextInfo = Type.Object(
  {
    contextId: ContextId,
    language: ReplLanguage,
    cwd: Type.String({ maxLength: 4096 }),
    /** Executions run so far (the next one gets this + 1). */
    executionCount: Type.Integer({ minimum: 0 }),
    /** `dead`: the interpreter was killed or exited; restart or delete the context. */
    state: Type.Union([Type.Literal('idle'), Type.Literal('busy'), Type.Literal('dead')]),
    /** The interpreter's pid inside the sandbox; 0 once it is dead. */
    pid: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ReplContextInfo = Static<typeof ReplContextInfo>;

export const ReplContextList = Type.Array(ReplContextInfo, { maxItems: L.maxContexts });

export const ReplFormats = Type.Object(
  {
    'text/plain': Type.Optional(Type.String({ maxLength: L.maxTextChars })),
    'text/html': Type.Optional(Type.String({ maxLength: L.maxHtmlChars })),
    /** base64 of the PNG bytes. */
    'image/png': Type.Optional(
      Type.String({ maxLength: L.maxPngBase64Chars, pattern: '^[A-Za-z0-9+/]*={0,2}$' }),
    ),
    /** JSON text. */
    'application/json': Type.Optional(Type.String({ maxLength: L.maxJsonChars })),
  },
  { additionalProperties: false },
);
export type ReplFormats = Static<typeof ReplFormats>;

export const ReplValue = Type.Object(
  {
    /** The value as text: `repr` in Python, `util.inspect` in JavaScript. */
    text: Type.String({ maxLength: L.maxTextChars }),
    formats: ReplFormats,
  },
  { additionalProperties: false },
);
export type ReplValue = Static<typeof ReplValue>;

export const ReplError = Type.Object(
  {
    /** e.g. `ZeroDivisionError`, `TypeError`, `KeyboardInterrupt`. */
    name: Type.String({ maxLength: L.maxErrorNameChars }),
    value: Type.String({ maxLength: L.maxErrorTextChars }),
    traceback: Type.String({ maxLength: L.maxErrorTextChars }),
  },
  { additionalProperties: false },
);
export type ReplError = Static<typeof ReplError>;

export const ReplRunResult = Type.Object(
  {
    executionCount: Type.Integer({ minimum: 0 }),
    /** The last expression's value, when there was one and it was not None / undefined. */
    result: Type.Optional(ReplValue),
    /**
     * What the code displayed while it ran (Python's `plt.show()`, `display(x)`), in order; at most
     * REPL_LIMITS.maxDisplays of at most REPL_LIMITS.maxDisplayChars together (the guest drops the
     * rest and sets `resultTruncated`).
     */
    displays: Type.Optional(Type.Array(ReplValue, { maxItems: L.maxDisplays })),
    error: Type.Optional(ReplError),
    /** The timeout passed and the execution was interrupted (or its interpreter killed). */
    timedOut: Type.Boolean(),
    /** The interpreter is gone (killed after ignoring the interrupt, or it exited): its state is lost. */
    contextLost: Type.Boolean(),
    /** Output passed REPL_LIMITS.maxOutputBytes and the rest was dropped. */
    outputTruncated: Type.Boolean(),
    /** Part of the value was cut or a format dropped to fit REPL_LIMITS. */
    resultTruncated: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type ReplRunResult = Static<typeof ReplRunResult>;

/** A `repl-delete` or `repl-interrupt` answer. */
export const ReplNull = Type.Null();

/** The schema of each `repl-*` request's successful `result` value. */
export const REPL_RESULT_SCHEMAS = {
  'repl-create': ReplContextInfo,
  'repl-run': ReplRunResult,
  'repl-list': ReplContextList,
  'repl-restart': ReplContextInfo,
  'repl-delete': ReplNull,
  'repl-interrupt': ReplNull,
} as const;
