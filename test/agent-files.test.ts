import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, stopAll } from './agent-fixture.js';

const outside: string[] = [];
afterEach(async () => {
  await stopAll();
  for (const d of outside.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('guest agent files API (local process)', () => {
  it('round-trips write, read, append, mode, stat, list, mkdir and remove', async () => {
    const { client } = await startAgent();
    await client.writeFile('dir/a.txt', 'hello');
    await client.writeFile('dir/a.txt', ' world', { append: true });
    expect((await client.readFile('dir/a.txt')).toString()).toBe('hello world');
    await client.writeFile('dir/run.sh', '#!/bin/sh\necho ran\n', { mode: 0o755 });
    expect((await client.stat('dir/run.sh')).mode).toBe(0o755);
    expect((await client.run({ argv: ['./dir/run.sh'] })).stdout.toString()).toBe('ran\n');
    await client.writeFile('empty', '');
    expect((await client.readFile('empty')).length).toBe(0);

    const st = await client.stat('dir/a.txt');
    expect(st).toMatchObject({ name: 'a.txt', path: 'dir/a.txt', type: 'file', size: 11 });
    await client.mkdir('dir/sub/deeper', { recursive: true });
    const names = (await client.list('dir')).map((f) => `${f.name}:${f.type}`);
    expect(names).toEqual(['a.txt:file', 'run.sh:file', 'sub:dir']);

    await expect(client.mkdir('dir')).rejects.toMatchObject({ code: 'FILE_EXISTS' });
    await expect(client.remove('dir')).rejects.toMatchObject({ code: 'IS_A_DIRECTORY' });
    await client.remove('dir/a.txt');
    await expect(client.stat('dir/a.txt')).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await client.remove('dir', { recursive: true });
    expect(await client.list('.')).toHaveLength(1);
  });

  it('maps errors to codes: missing, not a directory, is a directory', async () => {
    const { client } = await startAgent();
    await client.writeFile('f', 'x');
    await expect(client.readFile('missing')).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await expect(client.list('f')).rejects.toMatchObject({ code: 'NOT_A_DIRECTORY' });
    await expect(client.readFile('.')).rejects.toMatchObject({ code: 'IS_A_DIRECTORY' });
    await expect(client.writeFile('f/under', 'x')).rejects.toMatchObject({ code: 'NOT_A_DIRECTORY' });
    await expect(client.readFile('')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    // A FIFO would block an open() forever; it is refused up front.
    await client.run({ argv: ['mkfifo', 'fifo'] });
    await expect(client.readFile('fifo')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(client.writeFile('fifo', 'x')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(await client.ping()).toBeGreaterThan(0);
  });

  it('reads and writes 10 MB files whole', async () => {
    const { client } = await startAgent();
    const { randomBytes } = await import('node:crypto');
    const big = randomBytes(10 * 1024 * 1024 + 3);
    await client.writeFile('big', big);
    expect((await client.readFile('big')).equals(big)).toBe(true);
  });

  it('allows /tmp and refuses paths that leave the work dir', async () => {
    const { client, workDir } = await startAgent();
    const tmpFile = join(mkdtempSync(join(tmpdir(), 'hearth-agent-tmp-')), 'x');
    outside.push(join(tmpFile, '..'));
    await client.writeFile(tmpFile, 'in tmp');
    expect((await client.readFile(tmpFile)).toString()).toBe('in tmp');

    await expect(client.readFile('../x')).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    await expect(client.writeFile('a/../../x', 'no')).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    await expect(client.readFile('/etc/passwd')).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    await expect(client.list('/')).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    await expect(client.remove(workDir, { recursive: true })).rejects.toMatchObject({ code: 'PATH_ESCAPE' });

    // Symlinks made by the program inside the sandbox, pointing out of it.
    await client.run({ shell: 'ln -s /etc etc-link; ln -s /etc/passwd pw; ln -s /nonexistent/dir dangling' });
    await expect(client.readFile('etc-link/passwd')).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    await expect(client.list('etc-link')).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    await expect(client.readFile('pw')).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    await expect(client.writeFile('etc-link/hearth-should-not-exist', 'x')).rejects.toMatchObject({
      code: 'PATH_ESCAPE',
    });
    await expect(client.writeFile('dangling/x', 'x')).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
    await expect(client.writeFile('dangling', 'x')).rejects.toMatchObject({ code: 'PATH_ESCAPE' });
  });

  it('follows symlinks that stay inside', async () => {
    const { client, workDir } = await startAgent();
    const real = join(workDir, 'real');
    writeFileSync(real, 'inside');
    symlinkSync(real, join(workDir, 'link'));
    expect((await client.readFile('link')).toString()).toBe('inside');
    expect((await client.stat('link')).type).toBe('symlink');
  });
});
