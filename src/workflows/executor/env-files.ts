/**
 * The files a step writes to talk to the runner (GITHUB_ENV, GITHUB_OUTPUT, GITHUB_STATE): lines of
 * `NAME=value`, or `NAME<<DELIMITER` followed by the value's lines and the delimiter alone on a line.
 * They come out of the sandbox, so a malformed file is reported, never thrown past the executor.
 */

export interface EnvFileResult {
  values: Record<string, string>;
  /** Lines that could not be read, with why. */
  problems: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function parseEnvFile(text: string): EnvFileResult {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    const heredoc = line.indexOf('<<');
    if (heredoc > 0 && (eq < 0 || heredoc < eq)) {
      const name = line.slice(0, heredoc);
      const delimiter = line.slice(heredoc + 2);
      const end = lines.indexOf(delimiter, i + 1);
      if (delimiter === '' || end < 0) {
        problems.push(`line ${i + 1}: no closing delimiter '${delimiter}' for ${name}`);
        break;
      }
      if (NAME.test(name)) values[name] = lines.slice(i + 1, end).join('\n');
      else problems.push(`line ${i + 1}: invalid name '${name}'`);
      i = end;
      continue;
    }
    if (eq <= 0) {
      problems.push(`line ${i + 1}: expected NAME=value or NAME<<DELIMITER`);
      continue;
    }
    const name = line.slice(0, eq);
    if (NAME.test(name)) values[name] = line.slice(eq + 1);
    else problems.push(`line ${i + 1}: invalid name '${name}'`);
  }
  return { values, problems };
}

/** GITHUB_PATH: one directory a line. */
export function parsePathFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}
