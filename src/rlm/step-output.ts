/**
 * What a step's commands produced, as the model reads it: bounded to `maxOutputChars`, with the
 * cut said; and the shell commands a code block would start, for the validator to check.
 */
import type { CodeResult, CommandResult } from '../api/sessions.js';

export function cut(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  return `${text.slice(0, maxChars)}\n[output cut: ${maxChars} of ${text.length} characters shown]`;
}

export function codeOutput(r: CodeResult): string {
  const parts: string[] = [];
  if (r.stdout) parts.push(r.stdout);
  if (r.stderr) parts.push(`[stderr]\n${r.stderr}`);
  if (r.result) parts.push(r.result.text);
  if (r.error) parts.push(`${r.error.name}: ${r.error.value}\n${r.error.traceback.slice(-2000)}`);
  if (r.timedOut) parts.push('[the code was stopped: it ran past the step timeout]');
  if (r.contextLost) parts.push('[the REPL died: its variables are gone; `context` was not reloaded]');
  if (r.outputTruncated) parts.push('[the sandbox cut the output]');
  return parts.join('\n') || '(no output)';
}

export function commandOutput(r: CommandResult): string {
  const parts = [`exit ${r.exitCode ?? r.signal ?? '?'}`];
  if (r.stdout) parts.push(r.stdout);
  if (r.stderr) parts.push(`[stderr]\n${r.stderr}`);
  if (r.timedOut) parts.push('[the command was stopped: it ran past the step timeout]');
  return parts.join('\n');
}

const SHELL_CALL =
  /\b(?:os\.system|os\.popen|subprocess\.(?:run|call|check_call|check_output|Popen))\(\s*(\[[^\]]*\]|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')/g;
const STRING = /"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'/g;

/**
 * The shell commands a Python block starts with a literal: `os.system("…")`, `subprocess.run([…])`,
 * and IPython's `!cmd` lines. The validator knows shell, not Python, so these are what it checks.
 */
export function shellCommandsIn(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(SHELL_CALL)) {
    const strings = [...(m[1] as string).matchAll(STRING)].map((s) => s[1] ?? s[2] ?? '');
    if (strings.length) out.push(strings.join(' '));
  }
  for (const line of code.split('\n')) {
    const t = line.trim();
    if (t.startsWith('!') && t.length > 1) out.push(t.slice(1));
  }
  return out;
}
