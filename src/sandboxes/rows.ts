import type { SandboxRowStore } from '../store/sandbox-row-store.js';

/** What the manager needs of the store's sandbox rows (an async port: PostgreSQL must satisfy it too). */
export type SandboxRowsPort = Pick<
  SandboxRowStore,
  'insertSandbox' | 'updateSandbox' | 'deleteSandbox' | 'renewLeases'
>;
