import type { Command } from 'commander';

// Placeholder: replaced by the module that owns this command.
export function registerJobs(_program: Command): void {}
