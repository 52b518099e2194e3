import { type Command, Option } from 'commander';
import { processOutputs } from '../workflow-output.js';
import { type WorkflowRunFlags, workflowRun } from '../workflow-run.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** The `workflow` command, shared with the other workflow subcommands (each adds its own). */
function workflowCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'workflow') ??
    program.command('workflow').description('GitHub Actions workflows in hearth sandboxes, one per job')
  );
}

/** `hearth workflow run [event]`, with act's flags. */
export function registerWorkflow(program: Command): void {
  workflowCommand(program)
    .command('run [event]')
    .description(
      'Run the workflows triggered by an event (default push) locally, as act does: one sandbox per job',
    )
    .option('-W, --workflows <path>', 'a workflow file, or a directory of them (default .github/workflows/)')
    .option('-j, --job <id>', 'run this job and the jobs it needs')
    .option('-e, --eventpath <file>', 'the event payload (JSON), as github.event')
    .option('--matrix <key:value>', 'run only the matrix legs with this value (repeatable)', collect, [])
    .option(
      '-s, --secret <NAME[=value]>',
      'a secret; a bare NAME reads the env var (repeatable)',
      collect,
      [],
    )
    .option('--secret-file <file>', 'secrets in .env format (default .secrets when present)')
    .option('--var <key=value>', 'a variable, as vars.<key> (repeatable)', collect, [])
    .option('--var-file <file>', 'variables in .env format (default .vars when present)')
    .option('--env-file <file>', 'environment for every step, .env format (default .env when present)')
    .option('--input <key=value>', 'a workflow_dispatch input (repeatable)', collect, [])
    .option('-l, --list', 'list the workflows and jobs (stage, job, name, workflow, events); runs nothing')
    .option('-n, --dryrun', 'print the legs and steps that would run; runs nothing')
    .addOption(new Option('--dry-run', 'the same as --dryrun').hideHelp())
    .option('-C, --directory <dir>', 'the repository (default the current directory)')
    .option('--backend <name>', 'the sandbox backend: bwrap, gvisor or qemu (default the configured one)')
    .option('--image <name>', 'the sandbox image (default "default")')
    .option(
      '--snapshots <mode>',
      'every-step: a snapshot after each successful step, for debug and retry; none (default HEARTH_WORKFLOW_SNAPSHOTS, else every-step)',
    )
    .option(
      '--actions-dir <dir>',
      'where `uses: owner/repo@ref` actions are found, as <dir>/<owner>/<repo>@<ref>/ (default HEARTH_ACTIONS_DIR)',
    )
    .option('--json', 'print one JSON document (runs, jobs, steps, advice) on stdout; live lines on stderr')
    .option('--no-advice', "leave out the knowledge graph's predictions and lessons")
    // A bad flag is a usage error like any other: exit code 2 (commander would use 1, a failed run's code).
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (event: string | undefined, flags: WorkflowRunFlags) => {
      process.exitCode = await workflowRun({ ...(event ? { event } : {}), flags, out: processOutputs });
    });
}
