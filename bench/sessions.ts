/**
 * Sessions per usable backend, through the real SessionService over a real SandboxManager and
 * SQLite store (in-process: hearth's own cost above the backend): create → first command result
 * with no pooled sandbox and with the pool warm, command round trip, runCode round trip. Each as a
 * ratio against a floor measured alternately with it in the same run: the backend's own create →
 * first result, the agent's own exec and interpreter round trips (AgentClient, ReplClient on a
 * sandbox straight from the backend), bare bwrap. qemu adds memory snapshots (sessions-qemu.ts),
 * bwrap the same figures over HTTP (sessions-http.ts).
 */
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { ReplClient } from '../src/agent/client-repl.js';
import { requireImage } from '../src/images/store.js';
import { bareBwrap, ms, paired, pct, ratio, report, sample } from './lib.js';
import {
  COLD,
  createToFirst,
  rawCreateToFirst,
  type SessionHarness,
  sessionHarness,
} from './session-harness.js';
import sessionsHttp from './sessions-http.js';
import { qemuPooled, qemuSnapshots } from './sessions-qemu.js';

const G = 'sessions';
const TRUE = { argv: ['true'] };
const run = promisify(execFile);
type Name = 'bwrap' | 'gvisor' | 'qemu';
/** Samples per figure: qemu under TCG is slow, so it gets a few. */
const N: Record<Name, { create: number; roundTrip: number; warmup: number }> = {
  bwrap: { create: 20, roundTrip: 150, warmup: 5 },
  gvisor: { create: 8, roundTrip: 40, warmup: 5 },
  // Under TCG the first runs of a path translate its guest code: more of them go untimed.
  qemu: { create: 3, roundTrip: 15, warmup: 8 },
};
/** Issue 8's targets, in ms (none for gvisor). */
const TARGET: Record<Name, { create?: number; roundTrip?: number }> = {
  bwrap: { create: 50, roundTrip: 3 },
  gvisor: {},
  qemu: { create: 500 },
};
const load = (): string => `load ${loadavg()[0]?.toFixed(1)}`;

function verdict(value: number, targetMs: number | undefined) {
  return targetMs === undefined ? {} : { target: `≤ ${ms(targetMs)}`, met: value <= targetMs };
}

async function createFigures(h: SessionHarness, name: Name, bareTrue: () => Promise<unknown>): Promise<void> {
  const n = N[name].create;
  const [floor, cold] = await paired(
    n,
    () => rawCreateToFirst(h),
    () => createToFirst(h, name, COLD),
  );
  const how = name === 'qemu' ? 'template restore' : 'backend create';
  report({ group: G, name: `${name}: floor: ${how} → true (no session)`, value: pct(floor) });
  report({
    group: G,
    name: `${name}: create → first command, no pooled sandbox`,
    value: pct(cold),
    ratio: `${ratio(cold.p50, floor.p50, `floor (${how}, paired)`)}; ${load()}`,
    ...verdict(cold.p50, TARGET[name].create),
  });
  if (name === 'qemu') return;
  // The pool refills in the background: each sample waits for it first, untimed.
  const warmOnce = async () => {
    await h.poolReady();
    return createToFirst(h, name, {});
  };
  // Floor: a whole bare bwrap running `true`, what a sandbox that is ready has to beat.
  const [floorW, warm] = await paired(n, bareTrue, warmOnce);
  report({
    group: G,
    name: `${name}: create → first command, pool warm`,
    value: pct(warm),
    ratio: `${ratio(warm.p50, floorW.p50, 'floor (bare bwrap true, paired)')}; ${load()}`,
    ...verdict(warm.p50, TARGET[name].create),
  });
}

async function roundTrips(h: SessionHarness, name: Name): Promise<void> {
  const n = N[name].roundTrip;
  const raw = await h.rawSandbox();
  const s = await h.service.createSession({ backend: name, ...COLD });
  try {
    const [agent, cmd] = await paired(
      n,
      () => raw.agent.run(TRUE),
      () => h.service.runCommand(s.id, TRUE),
      N[name].warmup,
    );
    report({ group: G, name: `${name}: floor: agent exec round trip (true)`, value: pct(agent) });
    report({
      group: G,
      name: `${name}: command round trip (true)`,
      value: pct(cmd),
      ratio: ratio(cmd.p50, agent.p50, 'floor (agent exec, paired)'),
      ...verdict(cmd.p50, TARGET[name].roundTrip),
    });
    const repl = new ReplClient(raw.agent);
    const { contextId } = await repl.createContext({ language: 'python' });
    const own = await h.service.createContext(s.id, { language: 'python' });
    const [replRt, code] = await paired(
      n,
      () => repl.runCode(contextId, '1+1'),
      () => h.service.runCode(s.id, { code: '1+1' }),
      N[name].warmup,
    );
    report({ group: G, name: `${name}: floor: agent interpreter round trip (1+1)`, value: pct(replRt) });
    report({
      group: G,
      name: `${name}: runCode round trip (1+1, default context)`,
      value: pct(code),
      ratio: ratio(code.p50, replRt.p50, 'floor (agent interpreter, paired)'),
      ...verdict(code.p50, TARGET[name].roundTrip),
    });
    const [replRt2, named] = await paired(
      n,
      () => repl.runCode(contextId, '1+1'),
      () => h.service.runCode(s.id, { code: '1+1', context: own.id }),
      N[name].warmup,
    );
    report({
      group: G,
      name: `${name}: runCode round trip (1+1, named context)`,
      value: pct(named),
      ratio: ratio(named.p50, replRt2.p50, 'floor (agent interpreter, paired)'),
      ...verdict(named.p50, TARGET[name].roundTrip),
    });
  } finally {
    await h.service.deleteSession(s.id);
    await raw.destroy();
  }
}

async function benchBackend(name: Name, bareTrue: () => Promise<unknown>): Promise<void> {
  let h: SessionHarness;
  try {
    // qemu's own pool stays empty here, so every create is a template restore (its pooled
    // sessions are measured on a second stack, with the pool on).
    h = await sessionHarness(name, name === 'qemu' ? { qemuPool: 0 } : {});
  } catch (err) {
    report({ group: G, name: `${name}: skipped`, value: err instanceof Error ? err.message : String(err) });
    return;
  }
  try {
    await createFigures(h, name, bareTrue);
    await roundTrips(h, name);
    if (name === 'qemu') await qemuSnapshots(h);
  } finally {
    await h.close();
  }
  if (name === 'qemu') await qemuPooled(N.qemu.create, TARGET.qemu.create ?? 500);
}

export default async function sessionsBench(): Promise<void> {
  const argv = bareBwrap(requireImage('default').rootfs, ['true']);
  const bareTrue = () => run('bwrap', argv);
  report({ group: G, name: 'floor: bare bwrap true', value: pct(await sample(30, bareTrue, 3)) });
  // HEARTH_BENCH_BACKENDS=bwrap,qemu narrows the group to those backends.
  const only = process.env.HEARTH_BENCH_BACKENDS?.split(',');
  for (const name of ['bwrap', 'gvisor', 'qemu'] as const) {
    if (only && !only.includes(name)) continue;
    await benchBackend(name, bareTrue);
    if (name === 'bwrap') await sessionsHttp();
  }
}
