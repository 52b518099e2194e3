/**
 * Runs the commands of one model answer in the run's session, in the order they appear, and
 * gathers what goes back to the model. A FINAL ends the answer; a validator's refusal skips
 * the rest of it (later commands may lean on the refused one) and is said, with the retry count.
 */
import type { Strictness, ValidationResult } from '../api/learning.js';
import type { BudgetTracker } from './budgets.js';
import type { RlmCommand } from './commands.js';
import { askSubModel, askSubModelBatched, type SubCalls } from './guest-handler.js';
import type { RlmSessions } from './sessions-port.js';
import { codeOutput, commandOutput, cut, shellCommandsIn } from './step-output.js';

/** What the loop checks input with: the LearningService's validator. */
export interface InputValidator {
  validate(input: string, strictness: Strictness): ValidationResult;
}

/** A run's state that outlives one step. */
export interface RunState {
  sessionId: string;
  backend: string;
  /** SNAPSHOT names → snapshot ids. */
  snapshots: Map<string, string>;
  refusals: number;
  /** The last thing the REPL or a command printed: the partial answer if no FINAL comes. */
  lastOutput: string | null;
  /** Reloads `context` into a REPL that lost it (a restore on a backend without memory snapshots). */
  reloadContext: () => Promise<void>;
}

export interface StepEnv {
  sessions: RlmSessions;
  tracker: BudgetTracker;
  sub: SubCalls;
  validator?: InputValidator;
  strictness?: Strictness;
}

export interface StepOutcome {
  code: string;
  output: string;
  final?: string;
}

/** Characters of an answer a FINAL_VAR takes from the REPL (the sandbox's output is bounded anyway). */
const MAX_ANSWER_CHARS = 1024 * 1024;

const NO_COMMAND =
  'No code block or command found. Write a ```python block, a command such as RUN(cmd), or end with FINAL(answer) or FINAL_VAR(name).';

export async function runStep(env: StepEnv, state: RunState, commands: RlmCommand[]): Promise<StepOutcome> {
  const b = env.tracker.budgets;
  const ran: string[] = [];
  const out: string[] = [];
  const timeoutMs = () => Math.max(1, Math.min(b.stepTimeoutMs, env.tracker.remainingMs()));
  const sid = state.sessionId;
  /** The validator's verdict on one input, or undefined to go on. */
  const refused = (inputs: string[]): string | undefined => {
    if (!env.validator || !env.strictness) return undefined;
    for (const input of inputs) {
      const v = env.validator.validate(input, env.strictness);
      if (v.isValid) continue;
      state.refusals++;
      return `[refused by the validator, try ${state.refusals} of ${b.maxValidationRetries + 1}: ${v.message}]\nNothing of this answer after it ran. Use known commands.`;
    }
    return undefined;
  };
  const note = (text: string, isOutput = true) => {
    out.push(text);
    if (isOutput) state.lastOutput = text;
  };

  for (const c of commands) {
    switch (c.kind) {
      case 'code': {
        ran.push(`# python\n${c.code}`);
        const refusal = refused(shellCommandsIn(c.code));
        if (refusal)
          return { code: ran.join('\n'), output: cut(out.concat(refusal).join('\n'), b.maxOutputChars) };
        const r = await env.sessions.runCode(
          sid,
          { code: c.code, language: 'python', timeoutMs: timeoutMs() },
          { signal: env.tracker.signal },
        );
        note(codeOutput(r));
        break;
      }
      case 'run': {
        ran.push(`RUN(${c.cmd})`);
        const refusal = refused([c.cmd]);
        if (refusal)
          return { code: ran.join('\n'), output: cut(out.concat(refusal).join('\n'), b.maxOutputChars) };
        const r = await env.sessions.runCommand(
          sid,
          { cmd: c.cmd, timeoutMs: timeoutMs() },
          { signal: env.tracker.signal },
        );
        note(commandOutput(r));
        break;
      }
      case 'snapshot': {
        ran.push(`SNAPSHOT(${c.name})`);
        const s = await env.sessions.createSnapshot(sid, { name: c.name });
        state.snapshots.set(c.name, s.id);
        note(`[snapshot ${c.name} saved (${s.kind})]`, false);
        break;
      }
      case 'rollback': {
        ran.push(`ROLLBACK(${c.name})`);
        const id = state.snapshots.get(c.name);
        if (!id) {
          note(
            `[no snapshot named ${c.name}; taken: ${[...state.snapshots.keys()].join(', ') || 'none'}]`,
            false,
          );
          break;
        }
        await env.sessions.restoreSnapshot(sid, id);
        await state.reloadContext();
        note(`[rolled back to ${c.name}]`, false);
        break;
      }
      case 'query': {
        ran.push(`QUERY_LLM(${JSON.stringify(c.prompt.slice(0, 200))})`);
        note(await askSubModel(env.sub, c.prompt));
        break;
      }
      case 'query-batched': {
        ran.push(`QUERY_LLM_BATCHED([${c.prompts.length} prompts])`);
        note(JSON.stringify(await askSubModelBatched(env.sub, c.prompts)));
        break;
      }
      case 'final':
        ran.push('FINAL(…)');
        return { code: ran.join('\n'), output: cut(out.join('\n'), b.maxOutputChars), final: c.answer };
      case 'final-var': {
        ran.push(`FINAL_VAR(${c.name})`);
        const r = await env.sessions.runCode(
          sid,
          {
            code: `print(${c.name} if isinstance(${c.name}, str) else repr(${c.name}), end="")`,
            language: 'python',
            timeoutMs: timeoutMs(),
          },
          { signal: env.tracker.signal },
        );
        if (!r.error && !r.timedOut) {
          const final = r.stdout.slice(0, MAX_ANSWER_CHARS);
          return { code: ran.join('\n'), output: cut(out.join('\n'), b.maxOutputChars), final };
        }
        note(`[FINAL_VAR(${c.name}): ${r.error ? `${r.error.name}: ${r.error.value}` : 'timed out'}]`, false);
        break;
      }
      case 'bad':
        note(`[could not read ${c.text}: ${c.why}]`, false);
        break;
    }
  }
  if (!commands.length) out.push(NO_COMMAND);
  return { code: ran.join('\n'), output: cut(out.join('\n'), b.maxOutputChars) };
}
