/**
 * Entry of the guest agent bundle (dist/agent.js):
 *
 *   node agent.js [--stdio | --port <char device> | --socket <unix socket> | --vsock <port>]
 *                 [--work-dir /work] [--home /home/user] [--program-user UID:GID]
 *                 [--limits auto|cgroup|rlimit] [--env KEY=VALUE]...
 *
 * --home: the programs' $HOME (@default the work dir). Inside sandboxes it is the sandbox user's
 * home, a symlink to the work dir in the image, and the files API takes paths under it too.
 *
 * --port and --vsock go through the exec shim's relay (`hearth-exec --relay` / `--vsock-listen`).
 *
 * --program-user: programs run as UID:GID (the agent as root in a microVM keeps root to itself);
 * the work dir and what the files API writes belong to them, and the shim loads the tools layer's
 * seccomp filter (seccomp.bpf beside agent.js) for them, as bwrap does in its sandboxes.
 *
 * With --stdio the frames use fd 0/1, so nothing else may ever reach stdout: console output goes
 * to stderr.
 */
import { accessSync, constants as fsConstants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SANDBOX_PATH } from '../sandbox-user.js';
import { GuestAgent } from './agent.js';
import { Confinement, type ProgramUser } from './confine.js';
import { ExecServer } from './exec-server.js';
import { type LimitMode, setupLimits } from './limits.js';
import { openTransport, type TransportSpec } from './transport.js';

interface AgentArgs {
  transport: TransportSpec;
  workDir: string;
  home: string | undefined;
  limits: LimitMode;
  env: Record<string, string>;
  programUser: ProgramUser | undefined;
}

function parseArgs(argv: string[]): AgentArgs {
  const args: AgentArgs = {
    transport: { kind: 'stdio' },
    workDir: '/work',
    home: undefined,
    limits: 'auto',
    env: {},
    programUser: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    if (flag === '--stdio') args.transport = { kind: 'stdio' };
    else if (flag === '--port') args.transport = { kind: 'port', path: value() };
    else if (flag === '--socket') args.transport = { kind: 'socket', path: value() };
    else if (flag === '--vsock') {
      const port = Number(value());
      if (!Number.isInteger(port) || port <= 0 || port > 0xffffffff) usage('--vsock needs a port number');
      args.transport = { kind: 'vsock', port };
    } else if (flag === '--work-dir') args.workDir = resolve(value());
    else if (flag === '--home') args.home = resolve(value());
    else if (flag === '--program-user') {
      const m = /^(\d+):(\d+)$/.exec(value());
      if (!m) usage('--program-user needs UID:GID');
      args.programUser = { uid: Number(m[1]), gid: Number(m[2]) };
    } else if (flag === '--limits') {
      const mode = value();
      if (mode !== 'auto' && mode !== 'cgroup' && mode !== 'rlimit') usage(`unknown --limits ${mode}`);
      args.limits = mode;
    } else if (flag === '--env') {
      const pair = value();
      const eq = pair.indexOf('=');
      if (eq <= 0) usage(`--env needs KEY=VALUE, got ${pair}`);
      args.env[pair.slice(0, eq)] = pair.slice(eq + 1);
    } else usage(`unknown option ${flag}`);
  }
  return args;
}

function usage(problem: string): never {
  process.stderr.write(`hearth-agent: ${problem}\n`);
  process.exit(64);
}

/** `$HEARTH_SHIM`, else `bin/hearth-exec` (tools layer) or `hearth-exec` (dist/) beside agent.js. */
function findShim(): string | undefined {
  const here = dirname(process.argv[1] ?? '.');
  const candidates = [process.env.HEARTH_SHIM, join(here, 'bin/hearth-exec'), join(here, 'hearth-exec')];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, fsConstants.X_OK);
      return resolve(c);
    } catch {}
  }
  return undefined;
}

/** The tools layer's seccomp filter beside agent.js, if there. */
function findFilter(): string | undefined {
  const path = join(dirname(process.argv[1] ?? '.'), 'seccomp.bpf');
  try {
    accessSync(path, fsConstants.R_OK);
    return resolve(path);
  } catch {
    return undefined;
  }
}

function main(): void {
  // Keep stdout for frames only.
  const toStderr = (...a: unknown[]): void => void process.stderr.write(`${a.map(String).join(' ')}\n`);
  console.log = console.info = console.debug = console.warn = toStderr;
  const args = parseArgs(process.argv.slice(2));
  const home = args.home ?? args.workDir;
  const roots = home === args.workDir ? ['/tmp'] : ['/tmp', home];
  const confine = new Confinement(args.workDir, roots, args.programUser);
  const limits = setupLimits(args.limits);
  if (limits.reason) process.stderr.write(`hearth-agent: using rlimits: ${limits.reason}\n`);
  const shim = findShim();
  const agent = new GuestAgent({
    confine,
    shim,
    execServer: shim && process.env.HEARTH_EXEC_SERVER !== '0' ? new ExecServer(shim) : undefined,
    limits,
    programFilter: args.programUser ? findFilter() : undefined,
    baseEnv: { PATH: SANDBOX_PATH, HOME: home, LANG: 'C.UTF-8', ...args.env },
    exit: (code) => process.exit(code),
  });
  const transport = openTransport(args.transport, shim, {
    onData: (chunk) => agent.onData(chunk),
    onReset: () => agent.onReset(),
    onEnd: (err) => {
      if (err) process.stderr.write(`hearth-agent: stream failed: ${err.message}\n`);
      agent.onEnd();
    },
  });
  agent.attach(transport);
  process.on('SIGPIPE', () => {});
  process.on('uncaughtException', (err) => {
    process.stderr.write(`hearth-agent: ${err.stack ?? err.message}\n`);
  });
}

main();
