import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';

export const REPO = 'acme/app';

export const WORKFLOWS: Record<string, string> = {
  'ci.yml': `name: CI
on:
  push:
    branches: [main, 'release/**']
  pull_request:
    types: [opened, synchronize]
    branches: [main]
jobs: { build: { runs-on: ubuntu-latest, steps: [{ run: 'true' }] } }
`,
  'docs.yml': `name: Docs
on:
  push:
    paths: ['docs/**']
jobs: { build: { runs-on: ubuntu-latest, steps: [{ run: 'true' }] } }
`,
  'lint.yml': `name: Lint
on:
  pull_request:
    paths: ['src/**']
jobs: { build: { runs-on: ubuntu-latest, steps: [{ run: 'true' }] } }
`,
  'manual.yml': `name: Manual
on: workflow_dispatch
jobs: { build: { runs-on: ubuntu-latest, steps: [{ run: 'true' }] } }
`,
};

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();

/** A repository with main (first, second commit), feature/x (changes src/) and docs-only (changes docs/), mirrored bare. */
export function makeMirror(root: string): Record<'first' | 'main' | 'feature' | 'docsOnly', string> {
  const work = join(root, 'work');
  mkdirSync(join(work, '.github', 'workflows'), { recursive: true });
  git(work, 'init', '-q', '-b', 'main');
  for (const [name, text] of Object.entries(WORKFLOWS))
    writeFileSync(join(work, '.github/workflows', name), text);
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), text);
  };
  put('src/a.ts', 'first\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'first');
  const first = git(work, 'rev-parse', 'HEAD');
  put('docs/readme.md', 'docs\n');
  put('src/a.ts', 'second\n');
  git(work, 'commit', '-qam', 'second');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'docs', '--allow-empty');
  const main = git(work, 'rev-parse', 'HEAD');
  git(work, 'checkout', '-q', '-b', 'feature/x');
  put('src/b.ts', 'feature\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'feature');
  const feature = git(work, 'rev-parse', 'HEAD');
  git(work, 'checkout', '-q', 'main');
  git(work, 'checkout', '-q', '-b', 'docs-only');
  put('docs/more.md', 'more\n');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'more docs');
  const docsOnly = git(work, 'rev-parse', 'HEAD');
  mkdirSync(join(root, 'mirror', 'acme'), { recursive: true });
  git(root, 'clone', '-q', '--mirror', work, join(root, 'mirror', 'acme', 'app.git'));
  return { first, main, feature, docsOnly };
}

export interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

/** A stand-in for GitHub's REST API (unreachable here): records each call and answers 201. */
export async function startRecordingApi(): Promise<{ server: Server; url: string; calls: Recorded[] }> {
  const calls: Recorded[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      calls.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: body ? JSON.parse(body) : {},
      });
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}
