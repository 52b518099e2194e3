import { Command } from 'commander';
import { ERROR_HINTS } from '../errors/codes.js';
import { HearthError, toHearthError } from '../errors/hearth-error.js';
import { registerDoctor } from './commands/doctor.js';
import { registerImages } from './commands/images.js';
import { registerJobs } from './commands/jobs.js';
import { registerLearn } from './commands/learn.js';
import { registerMcp } from './commands/mcp.js';
import { registerRlm } from './commands/rlm.js';
import { registerRun } from './commands/run.js';
import { registerServe } from './commands/serve.js';
import { registerSession } from './commands/session.js';
import { registerWorkflow } from './commands/workflow.js';
import { registerWorkflowRuns } from './commands/workflow-runs.js';

const program = new Command()
  .name('hearth')
  .description('Run untrusted code in isolated sandboxes: microVMs, gVisor and Linux namespaces.')
  .version(process.env.HEARTH_VERSION ?? '0.1.0')
  .showHelpAfterError();

registerRun(program);
registerServe(program);
registerJobs(program);
registerSession(program);
registerMcp(program);
registerLearn(program);
registerWorkflow(program);
registerRlm(program);
registerImages(program);
registerDoctor(program);
registerWorkflowRuns(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = toHearthError(err);
  process.stderr.write(`hearth: ${e.message} [${e.code}]\n`);
  const hint = e instanceof HearthError ? e.hint : ERROR_HINTS.INTERNAL;
  process.stderr.write(`hint: ${hint}\n`);
  if (e.code === 'INTERNAL' && process.env.HEARTH_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
  process.exitCode = 2;
});
