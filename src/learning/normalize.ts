/**
 * Commands as the knowledge graph counts them: a program and, for programs that dispatch on one,
 * its subcommand (`git commit`, `npm ci`, `python -m pytest`). Arguments, paths, versions and
 * hashes are dropped, so `pip install requests==2.31` and `pip install numpy` are one node.
 */

/** Programs whose first plain word is a subcommand worth keeping. */
const SUBCOMMANDS = new Set([
  'apk',
  'apt',
  'apt-get',
  'brew',
  'bun',
  'cargo',
  'composer',
  'conda',
  'deno',
  'dnf',
  'docker',
  'gem',
  'git',
  'go',
  'gradle',
  'helm',
  'kubectl',
  'mvn',
  'npm',
  'pip',
  'pip3',
  'pipenv',
  'pnpm',
  'podman',
  'poetry',
  'rustup',
  'systemctl',
  'uv',
  'yarn',
  'yum',
]);
/** Words that prefix a command without being it. */
const PREFIXES = new Set(['sudo', 'env', 'time', 'nice', 'nohup', 'exec', 'command', 'builtin', 'xargs']);
/** Shell keywords that open a clause: the command is what follows. */
const OPENERS = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', '{', '(', 'time']);
/** Clauses that are control flow only. */
const CONTROL = new Set(['fi', 'done', 'esac', '}', ')', 'for', 'case', 'function', 'select', ';;']);
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ash', 'ksh']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
/** A subcommand is a plain word: no path, version, hash, flag or variable. */
const WORD = /^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$/;
const PYTHON = /^python(\d(\.\d+)?)?$/;
/** Nesting limit for `bash -c "sh -c '…'"`, so hostile input cannot recurse without end. */
const MAX_DEPTH = 4;
/** Commands taken from one script by default; the rest of a huge script adds nothing to the graph. */
const MAX_COMMANDS = 64;

/**
 * Splits a shell script into its simple commands' words: lines, `;`, `&&`, `||`, `|` and `&`
 * separate; quotes and backslashes are honoured; comments and `$(…)` bodies are not commands.
 */
export function splitScript(script: string, maxCommands = MAX_COMMANDS): string[][] {
  const out: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  let depth = 0;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length) out.push(words);
    words = [];
  };
  for (let i = 0; i < script.length && out.length < maxCommands; i++) {
    const c = script[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < script.length) word += script[++i];
      else word += c;
      continue;
    }
    if (depth > 0) {
      if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === '$' && script[i + 1] === '(') {
      depth = 1;
      i++;
      inWord = true;
      continue;
    }
    if (c === '\\') {
      if (script[i + 1] === '\n') i++;
      else if (i + 1 < script.length) {
        word += script[++i];
        inWord = true;
      }
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '#' && !inWord) {
      while (i + 1 < script.length && script[i + 1] !== '\n') i++;
    } else if (c === '&' && (script[i - 1] === '>' || script[i + 1] === '>')) {
      // `2>&1`, `&>file`: a redirection, not a separator.
      word += c;
      inWord = true;
    } else if (c === '\n' || c === ';' || c === '|' || c === '&' || c === '(' || c === ')') {
      endCommand();
      if ((c === '&' || c === '|' || c === ';') && script[i + 1] === c) i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      endWord();
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return out;
}

const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** `/usr/bin/python3.11` → `python3`: the program without its directory or minor version. */
function programName(word: string): string {
  const name = basename(word).toLowerCase();
  return name.includes('.') ? name.replace(/(\d)\.\d+(\.\d+)*$/, '$1') : name;
}

/**
 * The commands one argv or script line runs, normalized; a shell's `-c` script is unwrapped into
 * its own commands. Empty when nothing in it is a command.
 */
export function normalizeWords(words: string[], depth = 0): string[] {
  let i = 0;
  while (i < words.length) {
    const w = words[i] as string;
    if (OPENERS.has(w) || ASSIGNMENT.test(w)) i++;
    else if (PREFIXES.has(w)) {
      i++;
      while (i < words.length && (words[i] as string).startsWith('-')) i++;
    } else break;
  }
  const first = words[i];
  if (first === undefined || CONTROL.has(first)) return [];
  const program = programName(first);
  if (!program || !/^[a-z0-9_.+-]+$/.test(program)) return [];
  const rest = words.slice(i + 1);
  if (SHELLS.has(program)) {
    const c = rest.findIndex((a) => /^-[a-z]*c[a-z]*$/.test(a));
    const script = c >= 0 ? rest[c + 1] : undefined;
    if (script !== undefined && depth < MAX_DEPTH) return normalizeScript(script, depth + 1);
    return [program];
  }
  if (PYTHON.test(program) && rest[0] === '-m' && rest[1] && WORD.test(rest[1].toLowerCase())) {
    return [`${program} -m ${rest[1].toLowerCase()}`];
  }
  if (SUBCOMMANDS.has(program)) {
    const sub = rest.find((a) => !a.startsWith('-'));
    if (sub && WORD.test(sub)) return [`${program} ${sub}`];
  }
  return [program];
}

/** Every command a shell script runs, in order, normalized (the first `maxCommands` of them). */
export function normalizeScript(script: string, depth = 0, maxCommands = MAX_COMMANDS): string[] {
  const out: string[] = [];
  for (const words of splitScript(script, maxCommands)) out.push(...normalizeWords(words, depth));
  return out.slice(0, maxCommands);
}

/** The normalized form of one command line a user or a client names (`predict?command=`). */
export function normalizeCommand(line: string): string {
  return normalizeScript(line)[0] ?? line.trim().toLowerCase();
}

/** An argv as one shell line (each word quoted where needed), so it validates like a script would. */
export function argvToLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
