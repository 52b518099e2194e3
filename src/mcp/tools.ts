import type { Static } from '@sinclair/typebox';
import type { CodeResult, CommandResult } from '../api/sessions.js';
import type { SessionsApi } from '../api/sessions-api.js';
import type { TOOL_SCHEMAS, ToolName } from './tool-schemas.js';

type Args<T extends ToolName> = Static<(typeof TOOL_SCHEMAS)[T]>;

type Content = { type: 'text'; text: string } | { type: 'image'; data: string; mimeType: string };

/** What a tool call answers (MCP's CallToolResult). */
export interface ToolResult {
  [key: string]: unknown;
  content: Content[];
  isError?: boolean;
}

/** A file read through MCP lands in a model's context: more than this is cut, and said so. @default 1 MiB */
const MAX_READ_BYTES = 1024 * 1024;

const json = (value: unknown): ToolResult => ({
  content: [{ type: 'text', text: JSON.stringify(value, null, 2) }],
});

function commandAnswer(r: CommandResult): ToolResult {
  const { id, exitCode, signal, stdout, stderr, timedOut, truncated, outOfMemory, wallTimeMs } = r;
  return json({ id, exitCode, signal, timedOut, truncated, outOfMemory, wallTimeMs, stdout, stderr });
}

function codeAnswer(r: CodeResult): ToolResult {
  const { context, executionCount, stdout, stderr, error, timedOut, contextLost, outputTruncated } = r;
  const formats = r.result?.formats ?? {};
  const result = r.result
    ? {
        text: r.result.text,
        ...(formats['text/html'] ? { html: formats['text/html'] } : {}),
        ...(formats['application/json'] ? { json: formats['application/json'] } : {}),
      }
    : null;
  const answer = json({
    context,
    executionCount,
    stdout,
    stderr,
    result,
    error,
    timedOut,
    contextLost,
    outputTruncated,
  });
  const png = formats['image/png'];
  if (png) answer.content.push({ type: 'image', data: png, mimeType: 'image/png' });
  if (error || timedOut || contextLost) answer.isError = true;
  return answer;
}

type Handlers = { [T in ToolName]: (api: SessionsApi, a: Args<T>) => Promise<ToolResult> };

/** Each tool: one SessionsApi call, its answer as JSON text (and a PNG as an image). */
export const TOOL_HANDLERS: Handlers = {
  session_create: async (api, a) => json(await api.createSession(a)),
  session_end: async (api, a) => {
    await api.deleteSession(a.sessionId);
    return json({ ended: a.sessionId });
  },
  session_extend: async (api, a) => json(await api.extendSession(a.sessionId, a.ttlMs)),
  session_status: async (api, a) =>
    json(a.sessionId ? await api.getSession(a.sessionId) : { sessions: await api.listSessions() }),
  run_code: async (api, { sessionId, ...req }) => codeAnswer(await api.runCode(sessionId, req)),
  run_command: async (api, { sessionId, ...req }) => {
    if (req.cmd === undefined && req.argv === undefined) {
      return { content: [{ type: 'text', text: 'VALIDATION_FAILED: give cmd or argv' }], isError: true };
    }
    return commandAnswer(await api.runCommand(sessionId, req));
  },
  read_file: async (api, a) => {
    const bytes = await api.readFile(a.sessionId, a.path);
    const cut = bytes.length > MAX_READ_BYTES;
    const shown = cut ? bytes.subarray(0, MAX_READ_BYTES) : bytes;
    const text = a.encoding === 'base64' ? shown.toString('base64') : shown.toString('utf8');
    const note = cut
      ? `\n[cut: the file has ${bytes.length} bytes; the first ${MAX_READ_BYTES} are shown]`
      : '';
    return { content: [{ type: 'text', text: `${text}${note}` }] };
  },
  write_file: async (api, a) => {
    const content = a.encoding === 'base64' ? Buffer.from(a.content, 'base64') : a.content;
    return json(await api.writeFile(a.sessionId, a.path, content));
  },
  list_files: async (api, a) =>
    json({ entries: await api.listFiles(a.sessionId, a.path, a.depth ? { depth: a.depth } : {}) }),
  snapshot_create: async (api, { sessionId, ...req }) => json(await api.createSnapshot(sessionId, req)),
  snapshot_list: async (api, a) => json({ snapshots: await api.listSnapshots(a.sessionId) }),
  snapshot_restore: async (api, a) => json(await api.restoreSnapshot(a.sessionId, a.snapshotId)),
  snapshot_delete: async (api, a) => {
    await api.deleteSnapshot(a.snapshotId);
    return json({ deleted: a.snapshotId });
  },
};
