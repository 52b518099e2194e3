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
import type { SandboxSpec } from '../src/backends/backend.js';
import { requireImage } from '../src/images/store.js';
import { bareBwrap, ms, paired, pct, ratio, report, type Stats, sample } from './lib.js';
import { COLD, type SessionHarness, sessionHarness } from './session-harness.js';
import sessionsHttp from './sessions-http.js';
import { qemuSnapshots } from './sessions-qemu.js';

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

/** Session create → `true`'s result, in ms; the delete that follows is not counted. */
async function createToFirst(h: SessionHarness, name: Name, req: object): Promise<number> {
  const started = performance.now();
  const s = await h.service.createSession({ backend: name, ...req });
  const r = await h.service.runCommand(s.id, TRUE);
  const took = performance.now() - started;
  if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}: ${r.stderr}`);
  await h.service.deleteSession(s.id);
  return took;
}

/** The floor: the backend's own create → `true`'s result, no manager, store or session. */
async function rawCreateToFirst(h: SessionHarness, spec?: SandboxSpec): Promise<number> {
  const started = performance.now();
  const sb = await h.rawSandbox(spec);
  try {
    await sb.agent.run(TRUE);
    return performance.now() - started;
  } finally {
    await sb.destroy();
  }
}

async function createFigures(h: SessionHarness, name: Name, bareTrue: Stats | undefined): Promise<void> {
  const n = N[name].create;
  const [floor, cold] = await paired(
    n,
    () => rawCreateToFirst(h),
    () => createToFirst(h, name, COLD),
  );
  report({ group: G, name: `${name}: floor: backend create → true (no session)`, value: pct(floor) });
  report({
    group: G,
    name: `${name}: create → first command, no pooled sandbox`,
    value: pct(cold),
    ratio: `${ratio(cold.p50, floor.p50, 'floor (backend create, paired)')}; ${load()}`,
    ...verdict(cold.p50, TARGET[name].create),
  });
  // The pool refills in the background: each sample waits for it first, untimed.
  const warmOnce = async () => {
    await h.poolReady();
    return createToFirst(h, name, {});
  };
  const [floorW, warm] = await paired(n, () => rawCreateToFirst(h), warmOnce);
  const vsBare = bareTrue ? `, ${ratio(warm.p50, bareTrue.p50, 'bare bwrap true')}` : '';
  report({
    group: G,
    name: `${name}: create → first command, pool warm`,
    value: pct(warm),
    ratio: `${ratio(warm.p50, floorW.p50, 'floor (backend create, paired)')}${vsBare}; ${load()}`,
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

async function benchBackend(name: Name, bareTrue: Stats | undefined): Promise<void> {
  let h: SessionHarness;
  try {
    // qemu's own pool stays empty for the cold figures: every create is a template restore.
    h = await sessionHarness(name, name === 'qemu' ? { qemuPool: 0 } : {});
  } catch (err) {
    report({ group: G, name: `${name}: skipped`, value: err instanceof Error ? err.message : String(err) });
    return;
  }
  try {
    if (name === 'qemu') {
      // The cold figure needs qemu's pool off, the warm one on: two stacks.
      const [floor, cold] = await paired(
        N.qemu.create,
        () => rawCreateToFirst(h),
        () => createToFirst(h, name, COLD),
      );
      report({ group: G, name: 'qemu: floor: template restore → true (no session)', value: pct(floor) });
      report({
        group: G,
        name: 'qemu: create → first command, no pooled sandbox',
        value: pct(cold),
        ratio: `${ratio(cold.p50, floor.p50, 'floor (backend create, paired)')}; ${load()}`,
        ...verdict(cold.p50, TARGET.qemu.create),
      });
      await roundTrips(h, name);
      await qemuSnapshots(h);
    } else {
      await createFigures(h, name, bareTrue);
      await roundTrips(h, name);
    }
  } finally {
    await h.close();
  }
  if (name === 'qemu') await qemuWarm();
}

/**
 * qemu with its own pool on: a pooled session takes a restored, warmed VM. The floor is the same
 * checkout straight from the backend, alternated with it; each sample waits for the refill first.
 */
async function qemuWarm(): Promise<void> {
  const h = await sessionHarness('qemu', { qemuPool: 1 });
  try {
    const checkout = async () => {
      await h.poolReady();
      return rawCreateToFirst(h, h.poolSpec);
    };
    const session = async () => {
      await h.poolReady();
      return createToFirst(h, 'qemu', {});
    };
    const [floor, warm] = await paired(N.qemu.create, checkout, session);
    report({ group: G, name: 'qemu: floor: pool checkout → true (no session)', value: pct(floor) });
    report({
      group: G,
      name: 'qemu: create → first command, pool warm',
      value: pct(warm),
      ratio: `${ratio(warm.p50, floor.p50, 'floor (pool checkout, paired)')}; ${load()}`,
      ...verdict(warm.p50, TARGET.qemu.create),
    });
  } finally {
    await h.close();
  }
}

export default async function sessionsBench(): Promise<void> {
  const rootfs = requireImage('default').rootfs;
  const bareTrue = await sample(30, () => run('bwrap', bareBwrap(rootfs, ['true'])), 3).catch(
    () => undefined,
  );
  if (bareTrue) report({ group: G, name: 'floor: bare bwrap true', value: pct(bareTrue) });
  const only = process.env.HEARTH_BENCH_BACKENDS?.split(',');
  for (const name of ['bwrap', 'gvisor', 'qemu'] as const) {
    if (only && !only.includes(name)) continue;
    await benchBackend(name, bareTrue);
    if (name === 'bwrap') await sessionsHttp();
  }
}
