import type { AgentClient } from '../../agent/client.js';
import { type Catalog, loadCatalog } from '../../images/catalog.js';

/**
 * Warming a guest: its interpreters run once, so their binaries, libraries and standard modules
 * sit in the guest's page cache. In a template that cache is saved with the memory, so every
 * clone's first program starts without reading the disk; in a pooled VM the run also fills
 * QEMU's translation cache (under TCG) with the interpreter's code.
 */

/** No-op invocations of interpreters that load what a real program loads. */
const NO_OP: Record<string, string[]> = {
  python3: ['python3', '-c', 'pass'],
  node: ['node', '-e', '0'],
  bash: ['bash', '-c', 'true'],
  ruby: ['ruby', '-e', 'nil'],
};

/** How long one warm-up command may run. */
const WARM_TIMEOUT_MS = 60_000;

/**
 * The warm-up commands for `image`: each of its languages' interpreter run as a no-op when it is
 * a known one, else the language's version probe. Deduplicated, in catalog order.
 */
export function warmCommands(image: string, catalog: Catalog = loadCatalog()): string[][] {
  const out = new Map<string, string[]>();
  for (const lang of Object.values(catalog.languages)) {
    if (lang.image !== image) continue;
    const program = lang.run[0] ?? '';
    const argv = NO_OP[program] ?? (lang.compile ? undefined : lang.version);
    const probe = lang.compile ? lang.version : undefined;
    for (const a of [argv, probe]) if (a) out.set(a.join('\0'), a);
  }
  return [...out.values()];
}

/** Runs `commands` one after another; failures are ignored (warming only saves time). Returns ms. */
export async function warmUp(agent: AgentClient, commands: readonly string[][]): Promise<number> {
  const started = performance.now();
  for (const argv of commands) {
    await agent.run({ argv, limits: { timeoutMs: WARM_TIMEOUT_MS } }).catch(() => {});
  }
  return performance.now() - started;
}
