/**
 * The backend conformance suite: one case list, run against every backend whose probe says it is
 * usable here (Hono's common.case.test.ts). A test file per backend calls
 * `await defineBackendConformance('<name>')`; a backend that is not usable is skipped with its
 * reason in the describe title.
 */
import { afterAll, test as base, describe } from 'vitest';
import type { BackendName, Sandbox, SandboxBackend, SandboxSpec } from '../../src/backends/backend.js';
import { loadBackend } from '../../src/backends/registry.js';
import { MemoryLedger } from '../../src/host/ledger.js';
import { defineExecCases } from './exec-cases.js';
import { defineIsolationCases } from './isolation-cases.js';
import { defineLifecycleCases } from './lifecycle-cases.js';
import { defineRunOnceCases } from './run-once-cases.js';

export interface ConformanceContext {
  name: BackendName;
  backend: SandboxBackend;
  /** The ledger the backend records its sandboxes in. */
  ledger: MemoryLedger;
  /** The spec every fixture sandbox is created with. */
  spec: SandboxSpec;
  /** A test whose `sandbox` fixture is a fresh sandbox, destroyed on every path. */
  sandboxTest: SandboxTest;
  /** Cases this backend cannot pass here, each with the reason (shown in the skipped case's title). */
  gaps: Partial<Record<GapKey, string>>;
}

/** Cases a backend may declare it cannot pass, with a reason. */
export type GapKey = 'setsid-orphan-killed-on-timeout';

export interface ConformanceOptions {
  /** @default 'default' */
  image?: string;
  /** Backend-specific cases, defined inside the backend's describe block. */
  extraCases?: (ctx: ConformanceContext) => void;
  /** Known gaps: those cases are skipped, their reason in the title. */
  gaps?: Partial<Record<GapKey, string>>;
}

/** The sandbox every conformance test gets: small limits so containment is quick to show. */
export function fixtureSpec(image: string): SandboxSpec {
  return {
    image,
    memoryMb: 512,
    diskMb: 64,
    maxProcesses: 128,
    env: { HEARTH_CONFORMANCE: 'yes' },
    labels: { test: 'conformance' },
  };
}

function makeSandboxTest(get: () => { backend: SandboxBackend; spec: SandboxSpec }) {
  return base.extend<{ sandbox: Sandbox }>({
    // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies destructured
    sandbox: async ({}, use) => {
      const { backend, spec } = get();
      const sandbox = await backend.create(spec);
      try {
        await use(sandbox);
      } finally {
        await sandbox.destroy();
      }
    },
  });
}

export type SandboxTest = ReturnType<typeof makeSandboxTest>;

/** Defines the conformance suite for `name` (top-level await it in the backend's test file). */
export async function defineBackendConformance(
  name: BackendName,
  opts: ConformanceOptions = {},
): Promise<void> {
  const ledger = new MemoryLedger();
  const backend = await loadBackend(name, { ledger });
  const probe = await backend.probe();
  if (!probe.usable) {
    describe.skip(`${name} conformance — skipped: ${probe.reason}`, () => {
      base('backend is usable', () => {});
    });
    return;
  }
  const spec = fixtureSpec(opts.image ?? 'default');
  const sandboxTest = makeSandboxTest(() => ({ backend, spec }));
  const ctx: ConformanceContext = { name, backend, ledger, spec, sandboxTest, gaps: opts.gaps ?? {} };
  describe(`${name} conformance (${probe.reason})`, () => {
    afterAll(async () => {
      await backend.close?.();
    });
    defineExecCases(ctx);
    defineIsolationCases(ctx);
    defineLifecycleCases(ctx);
    if (backend.capabilities().includes('one-shot')) defineRunOnceCases(ctx);
    else
      describe.skip('runOnce — skipped: the backend lacks the one-shot capability', () =>
        base('runOnce', () => {}));
    opts.extraCases?.(ctx);
  });
}
