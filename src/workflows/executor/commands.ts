/**
 * Workflow commands a step prints on its output (`::set-output name=x::value`, `::set-env`,
 * `::add-path`, `::add-mask::value`, `::stop-commands::token` … `::token::`), as GitHub's runner still
 * honours them: set-output with a deprecation, set-env and add-path only when
 * ACTIONS_ALLOW_UNSECURE_COMMANDS is true. Other commands (debug, warning, group…) are log lines.
 */

export class WorkflowCommands {
  readonly outputs: Record<string, string> = {};
  readonly env: Record<string, string> = {};
  readonly path: string[] = [];
  /** set-env and add-path are honoured (the step's env has ACTIONS_ALLOW_UNSECURE_COMMANDS=true). */
  allowUnsecure: boolean;
  #stopToken: string | undefined;
  readonly #onMask: ((value: string) => void) | undefined;

  /** `onMask` gets each `::add-mask::` value: the run hides it from then on. */
  constructor(opts: { allowUnsecure: boolean; onMask?: (value: string) => void }) {
    this.allowUnsecure = opts.allowUnsecure;
    this.#onMask = opts.onMask;
  }

  /** Reads one output line; returns a note for the log when a command was refused. */
  line(text: string): string | undefined {
    const line = text.trimStart();
    if (this.#stopToken !== undefined) {
      if (line === `::${this.#stopToken}::`) this.#stopToken = undefined;
      return undefined;
    }
    const m = /^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
    if (!m) return undefined;
    const [, command = '', rawProps = '', rawValue = ''] = m;
    const props = properties(rawProps);
    const value = unescapeCommand(rawValue);
    switch (command) {
      case 'set-output':
        if (props.name) this.outputs[props.name] = value;
        return undefined;
      case 'add-mask':
        this.#onMask?.(value);
        return undefined;
      case 'stop-commands':
        if (value !== '') this.#stopToken = value;
        return undefined;
      case 'set-env':
      case 'add-path':
        if (!this.allowUnsecure)
          return `the '${command}' command is disabled: use GITHUB_ENV / GITHUB_PATH, or set ACTIONS_ALLOW_UNSECURE_COMMANDS=true`;
        if (command === 'add-path') this.path.push(value);
        else if (props.name) this.env[props.name] = value;
        return undefined;
      default:
        return undefined;
    }
  }
}

function properties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq).trim()] = unescapeCommand(pair.slice(eq + 1), true);
  }
  return out;
}

/** The runner's escapes: %25 %0D %0A in values, and %3A %2C in properties too. */
function unescapeCommand(text: string, property = false): string {
  let out = text.replaceAll('%0D', '\r').replaceAll('%0A', '\n');
  if (property) out = out.replaceAll('%3A', ':').replaceAll('%2C', ',');
  return out.replaceAll('%25', '%');
}
