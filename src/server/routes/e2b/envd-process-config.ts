import { Code, ConnectError } from '@connectrpc/connect';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { SANDBOX_USER } from '../../../agent/sandbox-user.js';
import { CommandRequest } from '../../../api/sessions.js';
import { type ProcessConfig, type ProcessSelector, Signal } from '../../../e2b/gen/process_pb.js';

const check = TypeCompiler.Compile(CommandRequest);

/**
 * envd's `ProcessConfig` as a hearth command: `cmd` and `args` are the argv (no shell of hearth's
 * between), `envs` come on top of the session's, and `cwd` is the user's home when not given, as in
 * envd (`pwd` prints /home/user).
 * The result passes the same schema as hearth's own command route, so what that route refuses
 * (NUL bytes, bad variable names, too many arguments) is `invalid_argument` here too.
 */
export function commandRequest(config: ProcessConfig | undefined, timeoutMs: number): CommandRequest {
  if (!config?.cmd) throw new ConnectError('process.cmd must name the program to run', Code.InvalidArgument);
  const req: CommandRequest = {
    argv: [config.cmd, ...config.args],
    ...(Object.keys(config.envs).length > 0 ? { env: { ...config.envs } } : {}),
    cwd: config.cwd || SANDBOX_USER.home,
    timeoutMs,
  };
  if (!check.Check(req)) {
    const first = check.Errors(req).First();
    const where = first?.path
      .replace(/^\/argv\/0$/, 'cmd')
      .replace(/^\/argv\/(\d+)$/, (_m, i) => `args/${Number(i) - 1}`);
    throw new ConnectError(
      `process: ${first ? `${where || '/'} ${first.message}` : 'invalid'}`,
      Code.InvalidArgument,
    );
  }
  return req;
}

/** A hearth command's request as envd's `ProcessConfig` (a shell line runs as `/bin/sh -c`). */
export function processConfig(req: CommandRequest): {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
} {
  const [cmd, ...args] = req.argv ?? ['/bin/sh', '-c', req.cmd ?? ''];
  return { cmd: cmd ?? '', args, envs: { ...req.env }, ...(req.cwd ? { cwd: req.cwd } : {}) };
}

/** hearth's command ids are `cmd-N`; N is the pid E2B clients see, unique within the session. */
export function pidOf(commandId: string): number | undefined {
  const m = /^cmd-(\d+)$/.exec(commandId);
  const n = m ? Number(m[1]) : Number.NaN;
  return Number.isSafeInteger(n) && n > 0 && n <= 0xffff_ffff ? n : undefined;
}

/** The command a selector names. hearth gives no process a tag, so a tag names none. */
export function commandIdOf(selector: ProcessSelector | undefined): string {
  const s = selector?.selector;
  if (s?.case === 'pid') return `cmd-${s.value}`;
  if (s?.case === 'tag') throw new ConnectError(`no process has the tag "${s.value}"`, Code.NotFound);
  throw new ConnectError('process must select a process by pid', Code.InvalidArgument);
}

/** The signals envd's SendSignal knows, by hearth's names. */
export function signalName(signal: Signal): 'SIGKILL' | 'SIGTERM' {
  if (signal === Signal.SIGKILL) return 'SIGKILL';
  if (signal === Signal.SIGTERM) return 'SIGTERM';
  throw new ConnectError('signal must be SIGNAL_SIGKILL or SIGNAL_SIGTERM', Code.InvalidArgument);
}
