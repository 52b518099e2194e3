/**
 * The host ↔ guest agent protocol, version 1.
 *
 * Transport: any reliable byte stream (stdio pipes, a virtio-serial port, vsock, a unix socket).
 *
 * Framing: every frame is `u32be length | u8 kind | body`, where `length` counts the kind byte
 * and the body. Two kinds:
 *   - `FrameKind.Json`: body is one UTF-8 JSON message (a `HostMessage` or a `GuestMessage`).
 *   - `FrameKind.Data`: body is `u32be channel | u8 stream | raw bytes`. Output, stdin and
 *     file contents travel this way, never base64-encoded.
 *
 * A channel is the `id` of the request the bytes belong to (an exec's stdin/stdout/stderr, a
 * file read's or write's content).
 *
 * Conversation:
 *   - The host sends `hello` first; the guest answers with its versions and capabilities. The
 *     host refuses a guest whose `protocolVersion` it does not know.
 *   - Every request has a unique `id` (positive integer, chosen by the host) and gets exactly
 *     one `result` with that id: `ok: true` with a `value`, or `ok: false` with an `error`.
 *   - `exec` answers `result` (value: `{ pid }`) once the process has started, then streams
 *     Data frames (Stdout/Stderr) on channel = the exec's id, then sends one `exit` event.
 *     An exec that cannot start answers `ok: false` and sends no `exit`.
 *   - Stdin for an exec: Data frames (Stream.Stdin) on its channel, then `close-stdin`.
 *   - `file-write`: the host sends the content as Data frames (Stream.File) on channel = the
 *     request's id *before* the `file-write` message; the guest buffers them until it arrives.
 *   - `file-read`: the guest sends the content as Data frames (Stream.File) on channel = the
 *     request's id, then the `result`.
 *   - Interpreter contexts (`repl-*`): a context is a long-lived interpreter the agent runs.
 *     `repl-run` streams the code's output as Data frames (Stdout/Stderr) on channel = the
 *     request's id, then answers one `result` whose value is a `ReplRunResult`. The shapes of
 *     these values are TypeBox schemas in repl-schema.ts, their caps in repl-limits.ts.
 *   - Guest calls (capability `guest-calls`, announced by both sides in `hello`): code running in
 *     an interpreter context calls the host (`llm_query`, `llm_query_batched`, `rlm_query`). The
 *     guest sends `call` (`id` from its own number space, `channel` = the repl-run whose code
 *     made it, `method`, `params`); the host answers one `call-result` with that id, `ok: true`
 *     with a `value` or `ok: false` with an `error`. A guest sends calls only to a host that
 *     announced `guest-calls`; a host answers every call, with an error when no handler is set,
 *     when the call is malformed or over its caps (guest-calls.ts), or when its run has ended.
 */

import type { ReplContextInfo, ReplLanguage, ReplRunResult } from './repl-schema.js';

export const PROTOCOL_VERSION = 1;
/** Protocol versions this build of the host can speak. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1];

export const FrameKind = { Json: 0, Data: 1 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const Stream = { Stdin: 0, Stdout: 1, Stderr: 2, File: 3 } as const;
export type Stream = (typeof Stream)[keyof typeof Stream];

/** The largest frame either side accepts; larger payloads are split into several Data frames. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** The size the sender splits data into. */
export const DATA_CHUNK_BYTES = 256 * 1024;

/** Per-exec limits. Every field is optional; the agent applies what it is given. */
export interface ExecLimits {
  /** Wall-clock limit; the whole process tree is killed when it passes. */
  timeoutMs?: number;
  /** CPU time limit (RLIMIT_CPU, rounded up to whole seconds, plus a watchdog). */
  cpuTimeMs?: number;
  /** Memory limit for the process tree (cgroup where available, else RLIMIT_AS). */
  memoryMb?: number;
  /** Process/thread limit (RLIMIT_NPROC, or a pids cgroup where available). */
  maxProcesses?: number;
  /** Largest file the process may write (RLIMIT_FSIZE). */
  maxFileBytes?: number;
  /** stdout + stderr bytes forwarded; past it the output is cut, `truncated` set, the tree killed. */
  maxOutputBytes?: number;
  /** Open files (RLIMIT_NOFILE). */
  maxOpenFiles?: number;
}

export interface ExecRequest {
  /** The program and its arguments. Exactly one of `argv` and `shell` is given. */
  argv?: string[];
  /** A shell command line, run with `/bin/sh -c`. */
  shell?: string;
  /** Added to the sandbox's base environment. */
  env?: Record<string, string>;
  /** Working directory; relative paths are resolved against the sandbox work dir. */
  cwd?: string;
  /** `pipe`: the host streams stdin; `null`: /dev/null. @default 'null' */
  stdin?: 'pipe' | 'null';
  limits?: ExecLimits;
}

/** How a process ended, with what it used. The output itself travels in Data frames. */
export interface ExecExit {
  /** The exit code, or null when a signal ended it. */
  exitCode: number | null;
  /** The signal name (e.g. `SIGKILL`) when one ended it, else null. */
  signal: string | null;
  /** The wall-clock or CPU-time limit passed and the tree was killed. */
  timedOut: boolean;
  /** Output passed `maxOutputBytes` and was cut. */
  truncated: boolean;
  /** The memory limit was hit (the kernel's OOM killer, or an allocation refused by RLIMIT_AS). */
  outOfMemory: boolean;
  cpuTimeMs: number;
  wallTimeMs: number;
  peakMemoryKb: number;
}

export interface FileStat {
  name: string;
  /** Path as given, normalised, relative to the sandbox work dir when it is inside it. */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  mtimeMs: number;
  /** Owner and group ids as the sandbox sees them (agents before these fields send none). */
  uid?: number;
  gid?: number;
  /** Where a symlink points, as stored in it (not resolved). */
  target?: string;
}

export interface HelloInfo {
  agentVersion: string;
  protocolVersion: number;
  capabilities: string[];
  pid: number;
  /** The sandbox's work dir, where relative paths are resolved. */
  workDir: string;
  /** `cgroup-v2`, `cgroup-v1`, or `rlimit`: how the agent applies memory and process limits. */
  limitMechanism: string;
}

/** Host → guest. */
export type HostMessage =
  | {
      type: 'hello';
      id: number;
      protocolVersions: number[];
      /** What this host understands beyond the version (`guest-calls`); older hosts send none. */
      capabilities?: string[];
    }
  | ({ type: 'exec'; id: number } & ExecRequest)
  | { type: 'close-stdin'; id: number; channel: number }
  | { type: 'signal'; id: number; channel: number; signal: string }
  | { type: 'file-read'; id: number; path: string }
  | { type: 'file-write'; id: number; path: string; mode?: number; append?: boolean }
  | { type: 'file-list'; id: number; path: string }
  | { type: 'file-stat'; id: number; path: string }
  | { type: 'file-mkdir'; id: number; path: string; recursive?: boolean }
  | { type: 'file-remove'; id: number; path: string; recursive?: boolean }
  | { type: 'ping'; id: number }
  | { type: 'prepare-snapshot'; id: number }
  | { type: 'after-restore'; id: number; sandboxId: string; nowMs: number; entropy: string }
  | { type: 'shutdown'; id: number }
  | {
      type: 'repl-create';
      id: number;
      language: ReplLanguage;
      cwd?: string;
      /** Environment variables of the interpreter, on top of the sandbox's own (kept on restart). */
      env?: Record<string, string>;
    }
  | {
      type: 'repl-run';
      id: number;
      contextId: string;
      code: string;
      timeoutMs?: number;
      /** Environment variables set for this execution only, then restored. */
      env?: Record<string, string>;
    }
  | { type: 'repl-list'; id: number }
  | { type: 'repl-restart'; id: number; contextId: string }
  | { type: 'repl-delete'; id: number; contextId: string }
  | { type: 'repl-interrupt'; id: number; contextId: string }
  /** The answer to a guest's `call` (its id, in the guest's number space); sends no `result`. */
  | { type: 'call-result'; id: number; ok: true; value: string | string[] }
  | { type: 'call-result'; id: number; ok: false; error: WireError };

export interface WireError {
  code: string;
  message: string;
}

/** Guest → host. */
export type GuestMessage =
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: WireError }
  | ({ type: 'exit'; id: number } & ExecExit)
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
  /**
   * A request of the guest's own (guest-calls.ts): `id` is chosen by the guest, `channel` is the
   * id of the repl-run whose code made the call. The host answers exactly one `call-result`.
   */
  | { type: 'call'; id: number; channel: number; method: string; params: unknown };

/** The `value` of each request's successful `result`. */
export interface ResultValues {
  hello: HelloInfo;
  exec: { pid: number };
  'close-stdin': null;
  signal: null;
  'file-read': { size: number };
  'file-write': { size: number };
  'file-list': FileStat[];
  'file-stat': FileStat;
  'file-mkdir': null;
  'file-remove': null;
  ping: { nowMs: number };
  'prepare-snapshot': null;
  'after-restore': null;
  shutdown: null;
  'repl-create': ReplContextInfo;
  'repl-run': ReplRunResult;
  'repl-list': ReplContextInfo[];
  'repl-restart': ReplContextInfo;
  'repl-delete': null;
  'repl-interrupt': null;
}
