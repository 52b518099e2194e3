/**
 * The input schemas of the MCP tools, built from the sessions API's own schemas (src/api), so a tool
 * accepts exactly what the API does. Every tool that acts on a session takes its id: the session
 * lives in hearth, and a stateless MCP client finds it again by id alone.
 */
import { type TObject, Type } from '@sinclair/typebox';
import {
  CodeRequest,
  CommandRequest,
  FilePathQuery,
  SessionCreateRequest,
  SessionExtendRequest,
  SnapshotCreateRequest,
} from '../api/sessions.js';

const SessionId = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'The session id from session_create.',
});
const SnapshotId = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'A snapshot id from snapshot_list.',
});
const Encoding = Type.Union([Type.Literal('utf8'), Type.Literal('base64')], {
  description: "How `content` is encoded: utf8 text, or base64 for binary files. Default 'utf8'.",
});
const { background: _b, ...commandProps } = CommandRequest.properties;
const strict = { additionalProperties: false };

export const TOOL_SCHEMAS = {
  session_create: Type.Object(SessionCreateRequest.properties, strict),
  session_end: Type.Object({ sessionId: SessionId }, strict),
  session_extend: Type.Object({ sessionId: SessionId, ...SessionExtendRequest.properties }, strict),
  session_status: Type.Object(
    { sessionId: Type.Optional({ ...SessionId, description: 'Without it: every session.' }) },
    strict,
  ),
  run_code: Type.Object({ sessionId: SessionId, ...CodeRequest.properties }, strict),
  run_command: Type.Object({ sessionId: SessionId, ...commandProps }, strict),
  read_file: Type.Object(
    { sessionId: SessionId, path: FilePathQuery.properties.path, encoding: Type.Optional(Encoding) },
    strict,
  ),
  write_file: Type.Object(
    {
      sessionId: SessionId,
      path: FilePathQuery.properties.path,
      content: Type.String({ maxLength: 16 * 1024 * 1024 }),
      encoding: Type.Optional(Encoding),
    },
    strict,
  ),
  list_files: Type.Object(
    {
      sessionId: SessionId,
      path: FilePathQuery.properties.path,
      depth: Type.Optional(
        Type.Integer({ minimum: 1, maximum: 16, description: 'How deep to descend. Default 1.' }),
      ),
    },
    strict,
  ),
  snapshot_create: Type.Object({ sessionId: SessionId, ...SnapshotCreateRequest.properties }, strict),
  snapshot_list: Type.Object({ sessionId: SessionId }, strict),
  snapshot_restore: Type.Object({ sessionId: SessionId, snapshotId: SnapshotId }, strict),
  snapshot_delete: Type.Object({ snapshotId: SnapshotId }, strict),
} satisfies Record<string, TObject>;

export type ToolName = keyof typeof TOOL_SCHEMAS;

export const TOOL_DESCRIPTIONS: Record<ToolName, string> = {
  session_create:
    'Start a sandbox session (an isolated Linux machine with persistent interpreters). Returns its id, which every other tool takes.',
  session_end: 'End a session: its sandbox, files and snapshots are freed.',
  session_extend: 'Keep a session longer: it now ends ttlMs milliseconds from now.',
  session_status: "A session's state, backend, capabilities and expiry; without sessionId, every session.",
  run_code:
    "Run code in a persistent interpreter of the session (python by default; javascript, typescript, bash). Variables survive between calls. Returns stdout, stderr, the last expression's value and any error.",
  run_command: 'Run a shell command (/bin/sh -c) in the session. Returns the exit code, stdout and stderr.',
  read_file: 'Read a file of the session (utf8 text, or base64 for binary files).',
  write_file: 'Write a file in the session (creates it and its parent directories, replaces what was there).',
  list_files: 'List a directory of the session: name, path, type, size.',
  snapshot_create:
    "Snapshot the session: its files and environment (and on microVM backends its memory, interpreters' variables included).",
  snapshot_list: "The session's snapshots.",
  snapshot_restore: 'Put the session back as it was at a snapshot; the session keeps its id.',
  snapshot_delete: 'Delete a snapshot.',
};
