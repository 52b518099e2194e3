import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import piston from 'piston-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';
import { buildApp } from '../src/server/app.js';
import { ServerMetrics } from '../src/server/metrics.js';
import type { PistonStage } from '../src/server/piston/result.js';
import { type RunningServer, startServer } from '../src/server/start.js';
import { settledLeftovers } from './leak-check.js';

// The published piston-client, unmodified, and raw fetch against a real server on port 0 with real
// SQLite and real bwrap sandboxes running the built `default` and `compiled` images.
let server: RunningServer;
let dir: string;
let client: ReturnType<typeof piston>;

type Stage = PistonStage;
interface Answer {
  language: string;
  version: string;
  run: Stage;
  compile?: Stage;
  message?: string;
}

const execute = async (body: unknown, contentType = 'application/json') => {
  const res = await fetch(`${server.url}/api/v2/execute`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer };
};

describe("Piston's v2 API on jobs", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-piston-'));
    process.env.HEARTH_BACKEND = 'bwrap';
    server = await startServer({
      port: 0,
      paths: { ...hearthPaths(), db: join(dir, 'hearth.db') },
      logger: false,
      shutdownGraceMs: 0,
    });
    client = piston({ server: server.url });
  });
  afterAll(async () => {
    await server?.close();
    delete process.env.HEARTH_BACKEND;
    rmSync(dir, { recursive: true, force: true });
    expect(await settledLeftovers()).toEqual([]);
  });

  it('lists the built languages with probed versions, as Piston runtimes', async () => {
    const runtimes = (await client.runtimes()) as Array<{
      language: string;
      version: string;
      aliases: string[];
    }>;
    const python = runtimes.find((r) => r.language === 'python');
    expect(python?.aliases).toContain('py');
    expect(python?.version).toMatch(/^3\.\d+\.\d+$/);
    expect(runtimes.find((r) => r.language === 'c')?.version).toMatch(/^\d+\.\d+/);
    for (const r of runtimes) expect(Object.keys(r).sort()).toEqual(['aliases', 'language', 'version']);
  });

  it('runs a Python program through piston-client, with stdin and args', async () => {
    const answer = (await client.execute(
      'python',
      'import sys\nprint(sys.stdin.read().strip(), sys.argv[1:], flush=True)\nprint("to err", file=sys.stderr)',
      { stdin: 'from stdin', args: ['a', 'b c'] },
    )) as Answer;
    expect(answer.language).toBe('python');
    expect(answer.version).toMatch(/^3\./);
    expect(answer.compile).toBeUndefined();
    expect(answer.run).toMatchObject({
      stdout: "from stdin ['a', 'b c']\n",
      stderr: 'to err\n',
      code: 0,
      signal: null,
      status: null,
      message: null,
    });
    expect(answer.run.output).toBe("from stdin ['a', 'b c']\nto err\n");
  });

  it('compiles and runs a C program through piston-client', async () => {
    const answer = (await client.execute(
      'c',
      '#include <stdio.h>\nint main(int argc, char **argv) { printf("%d %s\\n", argc, argv[1]); return 0; }\n',
      { args: ['x'] },
    )) as Answer;
    expect(answer.language).toBe('c');
    expect(answer.compile).toMatchObject({ code: 0, status: null, signal: null });
    expect(answer.run).toMatchObject({ stdout: '2 x\n', code: 0, output: '2 x\n' });
  });

  it('answers a compile error with run repeating compile, as Piston does', async () => {
    const answer = (await client.execute('c', 'int main(void) { return nope; }\n')) as Answer;
    expect(answer.compile?.code).not.toBe(0);
    expect(answer.compile?.status).toBe('RE');
    expect(answer.compile?.stderr).toContain('nope');
    expect(answer.run).toEqual(answer.compile);
  });

  it('reports a non-zero exit as RE and interleaves output in arrival order', async () => {
    const { status, body } = await execute({
      language: 'py',
      version: '*',
      files: [
        {
          content:
            'import sys, time\nprint("one", flush=True)\ntime.sleep(0.2)\nprint("two", file=sys.stderr, flush=True)\ntime.sleep(0.2)\nprint("three", flush=True)\nsys.exit(3)',
        },
      ],
    });
    expect(status).toBe(200);
    expect(body.run).toMatchObject({
      stdout: 'one\nthree\n',
      stderr: 'two\n',
      output: 'one\ntwo\nthree\n',
      code: 3,
      signal: null,
      status: 'RE',
      message: 'Exited with error status 3',
    });
    expect(typeof body.run.cpu_time).toBe('number');
    expect(typeof body.run.wall_time).toBe('number');
    expect(body.run.memory).toBeGreaterThan(0);
  });

  it('stops a program at run_timeout with TO and SIGKILL', async () => {
    const { body } = await execute({
      language: 'python',
      version: '3',
      files: [{ content: 'import time\nprint("started", flush=True)\ntime.sleep(60)' }],
      run_timeout: 1000,
    });
    expect(body.run).toMatchObject({ stdout: 'started\n', code: null, signal: 'SIGKILL', status: 'TO' });
  });

  it('applies compile_timeout to the compile step: a 1 ms compile is stopped with TO, run repeating it', async () => {
    const { body } = await execute({
      language: 'c',
      version: '*',
      files: [{ content: 'int main(void) { return 0; }\n' }],
      compile_timeout: 1,
    });
    expect(body.compile).toMatchObject({ code: null, signal: 'SIGKILL', status: 'TO' });
    expect(body.run).toEqual(body.compile);
  });

  it('applies run_memory_limit (bytes): 128 MiB fits the default, not 64 MiB', async () => {
    const { body } = await execute({
      language: 'python',
      version: '*',
      files: [{ content: 'x = bytearray(128 * 1024 * 1024)\nprint("allocated")' }],
      run_memory_limit: 64 * 1024 * 1024,
    });
    expect(body.run.stdout).toBe('');
    expect(body.run.message).toBe('Memory limit exceeded');
    expect(['RE', 'SG']).toContain(body.run.status);
    const fits = await execute({
      language: 'python',
      version: '*',
      files: [{ content: 'x = bytearray(128 * 1024 * 1024)\nprint("allocated")' }],
    });
    expect(fits.body.run).toMatchObject({ stdout: 'allocated\n', code: 0, status: null });
  });

  it('refuses an unknown language or version with 400 {message}', async () => {
    const unknown = (await client.execute('brainfuck', '+.', { version: '*' })) as Answer;
    expect(unknown).toEqual({ message: 'brainfuck-* runtime is unknown' });
    const version = await execute({ language: 'python', version: '2.7', files: [{ content: 'print(1)' }] });
    expect(version).toEqual({ status: 400, body: { message: 'python-2.7 runtime is unknown' } });
  });

  it('checks the body as Piston does, in its words', async () => {
    const cases: Array<[unknown, string]> = [
      [{ version: '*', files: [] }, 'language is required as a string'],
      [{ language: 'python', files: [] }, 'version is required as a string'],
      [{ language: 'python', version: '*' }, 'files is required as an array'],
      [
        { language: 'python', version: '*', files: [{ content: 1 }] },
        'files[0].content is required as a string',
      ],
      [
        { language: 'python', version: '*', files: [{ content: 'AA==', encoding: 'base64' }] },
        'files must include at least one utf8 encoded file',
      ],
      [
        { language: 'python', version: '*', files: [{ content: 'print(1)' }], run_timeout: '5' },
        'If specified, run_timeout must be a number',
      ],
      [
        { language: 'python', version: '*', files: [{ content: 'print(1)' }], run_timeout: 10_000_000 },
        'run_timeout cannot exceed the configured limit of 60000',
      ],
      [
        { language: 'python', version: '*', files: [{ content: 'print(1)' }], run_memory_limit: -5 },
        'run_memory_limit must be non-negative',
      ],
    ];
    const nul = await execute({
      language: 'python',
      version: '*',
      files: [{ content: 'print(1)' }],
      args: ['a\u0000b'],
    });
    expect(nul.status).toBe(400);
    expect(nul.body.message).toMatch(/^execute: \/args\/0 /);
    for (const [body, message] of cases)
      expect(await execute(body)).toEqual({ status: 400, body: { message } });
    const bad = await execute('{"language": ', 'application/json');
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body)).toEqual(['message']);
  });

  it('answers the exact Piston shape for a raw request with files, hex and a text/plain body', async () => {
    const { status, body } = await execute(
      JSON.stringify({
        language: 'python3',
        version: '3.x',
        files: [
          { name: 'prog.py', content: 'import helper\nprint(helper.VALUE, open("data.bin","rb").read())' },
          { name: 'helper.py', content: 'VALUE = 42\n' },
          { name: 'data.bin', content: Buffer.from('hi').toString('hex'), encoding: 'hex' },
        ],
        stdin: '',
        args: [],
        run_memory_limit: -1,
        compile_memory_limit: -1,
      }),
      'text/plain;charset=UTF-8',
    );
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['language', 'run', 'version']);
    expect(Object.keys(body.run).sort()).toEqual(
      [
        'code',
        'cpu_time',
        'memory',
        'message',
        'output',
        'signal',
        'status',
        'stderr',
        'stdout',
        'wall_time',
      ].sort(),
    );
    expect(body.run.stdout).toBe("42 b'hi'\n");
  });

  it('needs the bearer token when the server has tokens, as every route does', async () => {
    const app = await buildApp({ service: server.service, metrics: new ServerMetrics(), tokens: ['s3cret'] });
    try {
      const body = { language: 'python', version: '*', files: [{ content: 'print(6 * 7)' }] };
      const refused = await app.inject({ method: 'POST', url: '/api/v2/execute', payload: body });
      expect(refused.statusCode).toBe(401);
      expect(refused.json()).toEqual({ message: 'a valid bearer token is required' });
      const ok = await app.inject({
        method: 'POST',
        url: '/api/v2/execute',
        payload: body,
        headers: { authorization: 'Bearer s3cret' },
      });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().run.stdout).toBe('42\n');
    } finally {
      await app.close();
    }
  });
});
