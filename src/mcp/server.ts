/**
 * hearth's MCP server: the sessions API as MCP tools, over any SessionsApi (the service in this
 * process, or a server over HTTP). It keeps no state of its own — every tool names its session — so
 * one server per request (stateless Streamable HTTP) serves as well as one per process (stdio).
 * It is built on the SDK's low-level `Server`, not `McpServer`: McpServer wants zod schemas, and the
 * tools' schemas are the sessions API's own TypeBox (JSON Schema) ones, checked with TypeBox too.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { SessionsApi } from '../api/sessions-api.js';
import type { RlmService } from '../rlm/service.js';
import { RLM_TOOL_DESCRIPTIONS, RLM_TOOL_HANDLERS, RLM_TOOL_SCHEMAS, type RlmToolName } from './rlm-tools.js';
import { TOOL_DESCRIPTIONS, TOOL_SCHEMAS, type ToolName } from './tool-schemas.js';
import { TOOL_HANDLERS, type ToolResult } from './tools.js';

const NAMES = Object.keys(TOOL_SCHEMAS) as ToolName[];
const CHECKS = Object.fromEntries(NAMES.map((n) => [n, TypeCompiler.Compile(TOOL_SCHEMAS[n])])) as {
  [T in ToolName]: ReturnType<typeof TypeCompiler.Compile<(typeof TOOL_SCHEMAS)[T]>>;
};
/** The schemas as plain JSON Schema (TypeBox marks its objects with symbols; JSON drops them). */
const TOOLS = NAMES.map((name) => ({
  name,
  description: TOOL_DESCRIPTIONS[name],
  inputSchema: JSON.parse(JSON.stringify(TOOL_SCHEMAS[name])) as { type: 'object' },
}));

const isToolName = (n: string): n is ToolName => Object.hasOwn(TOOL_SCHEMAS, n);

const RLM_NAMES = Object.keys(RLM_TOOL_SCHEMAS) as RlmToolName[];
const RLM_CHECKS = new Map<
  string,
  {
    Check(v: unknown): boolean;
    Errors(v: unknown): ReturnType<ReturnType<typeof TypeCompiler.Compile>['Errors']>;
  }
>(RLM_NAMES.map((n) => [n, TypeCompiler.Compile(RLM_TOOL_SCHEMAS[n])]));
const RLM_TOOLS = RLM_NAMES.map((name) => ({
  name,
  description: RLM_TOOL_DESCRIPTIONS[name],
  inputSchema: JSON.parse(JSON.stringify(RLM_TOOL_SCHEMAS[name])) as { type: 'object' },
}));
const isRlmToolName = (n: string): n is RlmToolName => Object.hasOwn(RLM_TOOL_SCHEMAS, n);

function failure(code: string, message: string, hint?: string): ToolResult {
  const text = `${code}: ${message}${hint ? `\nhint: ${hint}` : ''}`;
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * A failed call as a tool error the model can read and act on: hearth's code, message and hint.
 * Anything without a code is a bug in hearth, and its message stays in the server.
 */
function toolError(err: unknown): ToolResult {
  const e = err as { code?: unknown; message?: unknown; hint?: unknown } | null;
  if (typeof e?.code === 'string' && /^[A-Z_]+$/.test(e.code)) {
    return failure(e.code, String(e.message ?? e.code), typeof e.hint === 'string' ? e.hint : undefined);
  }
  return failure('INTERNAL', 'internal error', 'A bug in hearth: retry, and report it with the server log.');
}

export interface McpServerOptions {
  /** Called with an error no tool could turn into an answer (a bug). @default nothing */
  onInternalError?: (err: unknown) => void;
  /** The RLM loop: with it, the rlm_* tools are served too. @default none */
  rlm?: RlmService;
}

/** An MCP server whose tools call `api`. Connect it to a transport. */
export function createMcpServer(api: SessionsApi, o: McpServerOptions = {}): Server {
  const server = new Server(
    { name: 'hearth', version: process.env.HEARTH_VERSION ?? '0.1.0' },
    {
      capabilities: { tools: {} },
      instructions:
        'Start a session with session_create and pass its id to every other tool; end it with session_end.',
    },
  );
  const rlm = o.rlm;
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: rlm ? [...TOOLS, ...RLM_TOOLS] : TOOLS,
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    const { name, arguments: args = {} } = req.params;
    const known = isToolName(name) || (rlm !== undefined && isRlmToolName(name));
    if (!known) throw new McpError(ErrorCode.InvalidParams, `no tool ${name}`);
    const check = isToolName(name)
      ? CHECKS[name]
      : (RLM_CHECKS.get(name) as NonNullable<ReturnType<typeof RLM_CHECKS.get>>);
    if (!check.Check(args)) {
      const first = check.Errors(args).First();
      const where = first?.path || '(arguments)';
      return failure(
        'VALIDATION_FAILED',
        `${where}: ${first?.message ?? 'invalid'}`,
        `See the ${name} input schema.`,
      );
    }
    try {
      if (isToolName(name)) {
        const handler = TOOL_HANDLERS[name] as (api: SessionsApi, a: unknown) => Promise<ToolResult>;
        return await handler(api, args);
      }
      const handler = RLM_TOOL_HANDLERS[name as RlmToolName] as (
        api: SessionsApi,
        rlm: RlmService,
        a: unknown,
      ) => Promise<ToolResult>;
      return await handler(api, rlm as RlmService, args);
    } catch (err) {
      const answer = toolError(err);
      if (answer.content[0]?.type === 'text' && answer.content[0].text.startsWith('INTERNAL')) {
        o.onInternalError?.(err);
      }
      return answer;
    }
  });
  return server;
}
