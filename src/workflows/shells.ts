/**
 * `shell:` → the command that runs a step's script file, as GitHub's runner and act's SHELLS.json
 * have it. `{0}` is the script's path. Windows shells are refused: sandboxes run Linux.
 */
import { HearthError } from '../errors/hearth-error.js';

export interface ShellCommand {
  /** The command line with `{0}` in it. */
  template: string;
  /** The script file's extension, which some interpreters need. */
  extension: string;
}

const KNOWN: Record<string, ShellCommand> = {
  bash: { template: 'bash --noprofile --norc -e -o pipefail {0}', extension: '.sh' },
  sh: { template: 'sh -e {0}', extension: '.sh' },
  // GitHub runs `python {0}`; Debian's images have python3 and no `python` name.
  python: { template: 'python3 {0}', extension: '.py' },
  node: { template: 'node {0}', extension: '.js' },
};

const UNSUPPORTED = new Set(['pwsh', 'powershell', 'cmd']);

/**
 * The command for a step's shell. Unset means bash (`bash -e {0}`, without pipefail, as GitHub runs
 * an unset shell on Linux), or sh where bash is missing; the executor says which it found.
 */
export function shellCommand(
  shell: string | undefined,
  opts: { bashAvailable?: boolean } = {},
): ShellCommand {
  const name = shell?.trim() ?? '';
  if (name === '') {
    return opts.bashAvailable === false
      ? { template: 'sh -e {0}', extension: '.sh' }
      : { template: 'bash -e {0}', extension: '.sh' };
  }
  const known = KNOWN[name];
  if (known) return known;
  const first = name.split(/\s+/)[0] ?? '';
  if (UNSUPPORTED.has(first)) {
    throw new HearthError(
      'WORKFLOW_INVALID',
      `shell '${name}' is not supported: hearth runs steps on Linux; use bash, sh, python, node or a command with {0}`,
    );
  }
  if (!name.includes('{0}')) {
    throw new HearthError(
      'WORKFLOW_INVALID',
      `shell '${name}' has no {0}: a custom shell must say where the script path goes, e.g. 'perl {0}'`,
    );
  }
  return { template: name, extension: '' };
}

/** The argv for a shell command and script path (the template split on spaces, `{0}` replaced). */
export function shellArgv(command: ShellCommand, scriptPath: string): string[] {
  return command.template
    .split(/\s+/)
    .filter((part) => part !== '')
    .map((part) => part.replaceAll('{0}', scriptPath));
}
