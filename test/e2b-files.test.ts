import { request } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { FileNotFoundError, type FilesystemEvent, FilesystemEventType, FileType, Sandbox } from 'e2b';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2bServer } from './e2b-fixture.js';
import { settledLeftovers } from './leak-check.js';

// envd's filesystem (Connect RPCs and plain-HTTP /files) through the published `e2b` SDK,
// unmodified, against a real server on port 0 with a real bwrap sandbox; raw fetch for what the
// SDK cannot send (malformed bodies, wrong tokens).
let e2b: Awaited<ReturnType<typeof startE2bServer>>;
let sbx: Sandbox;
let token: string;

/** The headers the SDK sends on envd requests, for the raw cases. */
function envdHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49983', 'X-Access-Token': token, ...extra };
}

/** A GET through node:http, which (unlike fetch) leaves a gzip body as it came. */
function rawGet(path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>(
    (resolve, reject) => {
      const req = request(`${e2b.server.url}${path}`, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    },
  );
}

describe('E2B envd filesystem', () => {
  beforeAll(async () => {
    e2b = await startE2bServer();
    // Created by hand to learn the envd token for the raw cases; the SDK then connects to it.
    const res = await fetch(`${e2b.server.url}/v2/sandboxes`, {
      method: 'POST',
      headers: { 'X-API-KEY': 'e2b_local', 'Content-Type': 'application/json' },
      body: JSON.stringify({ templateID: 'base' }),
    });
    expect({ status: res.status, body: res.status === 201 ? '' : await res.text() }).toEqual({
      status: 201,
      body: '',
    });
    const created = (await res.json()) as { sandboxID: string; envdAccessToken: string };
    token = created.envdAccessToken;
    sbx = await Sandbox.connect(created.sandboxID);
  }, 120_000);
  afterAll(async () => {
    await sbx?.kill();
    await e2b?.close();
    expect(await settledLeftovers()).toEqual([]);
  });

  it('writes strings, ArrayBuffers, Blobs and several files at once, and reads them back', async () => {
    const one = await sbx.files.write('notes/hello.txt', 'hello, world');
    expect(one).toMatchObject({ name: 'hello.txt', type: 'file' });
    expect(one.path).toBe('/home/user/notes/hello.txt');
    expect(await sbx.files.read('notes/hello.txt')).toBe('hello, world');

    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await sbx.files.write('bin/data.bin', bytes.buffer);
    expect(await sbx.files.read('bin/data.bin', { format: 'bytes' })).toEqual(bytes);

    await sbx.files.write('blob.txt', new Blob(['from a blob']));
    expect(await sbx.files.read('blob.txt', { format: 'blob' }).then((b) => b.text())).toBe('from a blob');

    const many = await sbx.files.write([
      { path: 'many/a.txt', data: 'A' },
      { path: '/tmp/many/b.txt', data: 'B' },
    ]);
    expect(many.map((f) => f.path)).toEqual(['/home/user/many/a.txt', '/tmp/many/b.txt']);
    expect(await sbx.files.read('/tmp/many/b.txt')).toBe('B');

    // A write replaces the file; an empty file reads as empty.
    await sbx.files.write('notes/hello.txt', '');
    expect(await sbx.files.read('notes/hello.txt')).toBe('');
  });

  it('streams a read, and moves data gzip-encoded both ways', async () => {
    const big = 'line of text\n'.repeat(20_000);
    await sbx.files.write('big.txt', big, { gzip: true });
    const stream = await sbx.files.read('big.txt', { format: 'stream' });
    let text = '';
    for await (const chunk of stream) text += Buffer.from(chunk).toString('utf8');
    expect(text).toBe(big);
    expect(await sbx.files.read('big.txt', { gzip: true })).toBe(big);

    const raw = await rawGet('/files?path=big.txt', envdHeaders({ 'Accept-Encoding': 'gzip' }));
    expect(raw.status).toBe(200);
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(raw.body).toString('utf8')).toBe(big);
    const plain = await rawGet('/files?path=big.txt', envdHeaders());
    expect(plain.headers['content-length']).toBe(String(Buffer.byteLength(big)));
    expect(plain.body.toString('utf8')).toBe(big);
  });

  it('lists one level or two, with every entry typed', async () => {
    await sbx.files.write('tree/top.txt', 't');
    await sbx.files.write('tree/sub/deep.txt', 'd');
    const one = await sbx.files.list('tree');
    expect(one.map((e) => [e.name, e.type])).toEqual([
      ['sub', FileType.DIR],
      ['top.txt', FileType.FILE],
    ]);
    const two = await sbx.files.list('tree', { depth: 2 });
    expect(two.map((e) => e.name).sort()).toEqual(['deep.txt', 'sub', 'top.txt']);
    expect(two.find((e) => e.name === 'deep.txt')?.path).toBe('/home/user/tree/sub/deep.txt');
  });

  it('says whether files exist and describes them', async () => {
    await sbx.files.write('info/file.txt', '12345');
    expect(await sbx.files.exists('info/file.txt')).toBe(true);
    expect(await sbx.files.exists('info/missing.txt')).toBe(false);
    const info = await sbx.files.getInfo('info/file.txt');
    expect(info).toMatchObject({
      name: 'file.txt',
      type: FileType.FILE,
      size: 5,
      owner: 'user',
      group: 'user',
    });
    expect(info.permissions).toMatch(/^-rw-r--r--$/);
    expect(info.modifiedTime).toBeInstanceOf(Date);
    const dir = await sbx.files.getInfo('info');
    expect(dir.type).toBe(FileType.DIR);
    expect(dir.permissions).toMatch(/^d[rwx-]{9}$/);
    await expect(sbx.files.getInfo('info/missing.txt')).rejects.toBeInstanceOf(FileNotFoundError);
  });

  it('describes a symlink with its target', async () => {
    await sbx.files.write('linked/target.txt', 'pointed at, and longer than the link');
    const ln = await sbx.commands.run('ln -s target.txt linked/link.txt');
    expect(ln.exitCode).toBe(0);
    const info = await sbx.files.getInfo('linked/link.txt');
    expect(info).toMatchObject({
      name: 'link.txt',
      type: FileType.SYMLINK,
      symlinkTarget: '/home/user/linked/target.txt',
    });
    expect(info.permissions).toMatch(/^l/);
    const listed = await sbx.files.list('linked');
    expect(listed.map((e) => [e.name, e.type])).toEqual([
      ['link.txt', FileType.SYMLINK],
      ['target.txt', FileType.FILE],
    ]);
    expect(await sbx.files.read('linked/link.txt')).toBe('pointed at, and longer than the link');
  });

  it('serves pre-signed upload and download URLs', async () => {
    const up = await sbx.uploadUrl('signed/up.txt');
    const form = new FormData();
    form.append('file', new Blob(['sent by URL']), 'signed/up.txt');
    const put = await fetch(up, { method: 'POST', body: form });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual([{ name: 'up.txt', type: 'file', path: '/home/user/signed/up.txt' }]);
    const down = await fetch(await sbx.downloadUrl('signed/up.txt'));
    expect(down.status).toBe(200);
    expect(await down.text()).toBe('sent by URL');
  });

  it('makes directories once, renames and removes', async () => {
    expect(await sbx.files.makeDir('made/a/b')).toBe(true);
    expect(await sbx.files.makeDir('made/a/b')).toBe(false);
    expect((await sbx.files.getInfo('made/a/b')).type).toBe(FileType.DIR);

    await sbx.files.write('made/from.txt', 'moved');
    const moved = await sbx.files.rename('made/from.txt', 'made/elsewhere/to.txt');
    expect(moved).toMatchObject({ name: 'to.txt', type: FileType.FILE });
    expect(await sbx.files.read('made/elsewhere/to.txt')).toBe('moved');
    expect(await sbx.files.exists('made/from.txt')).toBe(false);

    await sbx.files.remove('made');
    expect(await sbx.files.exists('made')).toBe(false);
    // Removing what is gone is no error, as with envd.
    await sbx.files.remove('made');
  });

  it('throws FileNotFoundError for a missing file', async () => {
    await expect(sbx.files.read('no/such/file.txt')).rejects.toBeInstanceOf(FileNotFoundError);
    await expect(sbx.files.list('no/such/dir')).rejects.toBeInstanceOf(FileNotFoundError);
  });

  it('watches a directory and sees files written through the API', async () => {
    await sbx.files.makeDir('watched');
    const events: FilesystemEvent[] = [];
    let seen: () => void = () => {};
    const both = new Promise<void>((r) => {
      seen = r;
    });
    let exited: () => void = () => {};
    const exit = new Promise<void>((r) => {
      exited = r;
    });
    const handle = await sbx.files.watchDir(
      'watched',
      (e) => {
        events.push(e);
        const names = events.map((x) => `${x.type}:${x.name}`);
        if (names.includes('create:new.txt') && names.includes('remove:old.txt')) seen();
      },
      { onExit: () => exited() },
    );
    try {
      await sbx.files.write('watched/old.txt', 'x');
      // The watch polls; let it see old.txt before it goes.
      await new Promise<void>((r) => {
        const check = () =>
          events.some((e) => e.name === 'old.txt' && e.type === FilesystemEventType.CREATE)
            ? r()
            : setTimeout(check, 50);
        check();
      });
      await sbx.files.remove('watched/old.txt');
      await sbx.files.write('watched/new.txt', 'y');
      await both;
    } finally {
      await handle.stop();
      // Once stopped the SDK probes /health in the background; let that finish here.
      await exit;
    }
    expect(events.map((e) => e.name)).toEqual(expect.arrayContaining(['old.txt', 'new.txt']));
  });

  it('watches a tree recursively, naming entries by their path below the watched directory', async () => {
    await sbx.files.makeDir('deepwatch/sub');
    let found: () => void = () => {};
    const seen = new Promise<void>((r) => {
      found = r;
    });
    let exited: () => void = () => {};
    const exit = new Promise<void>((r) => {
      exited = r;
    });
    const handle = await sbx.files.watchDir(
      'deepwatch',
      (e) => {
        if (e.name === 'sub/inner.txt' && e.type === FilesystemEventType.CREATE) found();
      },
      { recursive: true, onExit: () => exited() },
    );
    try {
      await sbx.files.write('deepwatch/sub/inner.txt', 'deep');
      await seen;
    } finally {
      await handle.stop();
      await exit;
    }
  });

  it('refuses malformed requests with Connect errors and 4xx, never a 500', async () => {
    const rpc = await fetch(`${e2b.server.url}/filesystem.Filesystem/Stat`, {
      method: 'POST',
      headers: envdHeaders({ 'Content-Type': 'application/json', 'Connect-Protocol-Version': '1' }),
      body: '{"path": ',
    });
    expect(rpc.status).toBe(400);
    expect(await rpc.json()).toMatchObject({ code: 'invalid_argument' });

    const wrongType = await fetch(`${e2b.server.url}/filesystem.Filesystem/ListDir`, {
      method: 'POST',
      headers: envdHeaders({ 'Content-Type': 'application/json', 'Connect-Protocol-Version': '1' }),
      body: JSON.stringify({ path: 12, depth: 'deep' }),
    });
    expect(wrongType.status).toBe(400);

    const stranger = await fetch(`${e2b.server.url}/filesystem.Filesystem/Stat`, {
      method: 'POST',
      headers: envdHeaders({
        'Content-Type': 'application/json',
        Authorization: `Basic ${Buffer.from('mallory:').toString('base64')}`,
      }),
      body: JSON.stringify({ path: 'good.txt' }),
    });
    expect(await stranger.json()).toMatchObject({ code: 'invalid_argument' });
    expect(await sbx.files.list('.', { user: 'root' })).not.toHaveLength(0);

    const form = new FormData();
    form.append('other', 'not a file');
    const noFile = await fetch(`${e2b.server.url}/files?path=x.txt`, {
      method: 'POST',
      headers: envdHeaders(),
      body: form,
    });
    expect(noFile.status).toBe(400);
    expect(await noFile.json()).toMatchObject({ code: 400, message: expect.stringContaining('file') });

    const badGzip = await fetch(`${e2b.server.url}/files?path=bad.gz`, {
      method: 'POST',
      headers: envdHeaders({ 'Content-Type': 'application/octet-stream', 'Content-Encoding': 'gzip' }),
      body: Buffer.from('certainly not gzip'),
    });
    expect(badGzip.status).toBe(400);

    const goodGzip = await fetch(`${e2b.server.url}/files?path=good.txt`, {
      method: 'POST',
      headers: envdHeaders({ 'Content-Type': 'application/octet-stream', 'Content-Encoding': 'gzip' }),
      body: gzipSync('unzipped on arrival'),
    });
    expect(await goodGzip.json()).toEqual([
      { name: 'good.txt', type: 'file', path: expect.stringMatching(/\/good\.txt$/) },
    ]);
    expect(await sbx.files.read('good.txt')).toBe('unzipped on arrival');

    const strangerFile = await fetch(`${e2b.server.url}/files?path=good.txt&username=mallory`, {
      headers: envdHeaders(),
    });
    expect(strangerFile.status).toBe(400);
    expect(await sbx.files.read('good.txt', { user: 'root' })).toBe('unzipped on arrival');

    const missing = await fetch(`${e2b.server.url}/files?path=nope.txt`, { headers: envdHeaders() });
    expect(missing.status).toBe(404);
  });

  it('refuses a wrong access token and a request that names no sandbox', async () => {
    const wrong = await fetch(`${e2b.server.url}/files?path=good.txt`, {
      headers: envdHeaders({ 'X-Access-Token': 'not-the-token' }),
    });
    expect(wrong.status).toBe(401);
    const wrongRpc = await fetch(`${e2b.server.url}/filesystem.Filesystem/Stat`, {
      method: 'POST',
      headers: envdHeaders({ 'X-Access-Token': 'nope', 'Content-Type': 'application/json' }),
      body: JSON.stringify({ path: 'good.txt' }),
    });
    expect(wrongRpc.status).toBe(401);
    expect(await wrongRpc.json()).toMatchObject({ code: 'unauthenticated' });

    const unnamed = await fetch(`${e2b.server.url}/filesystem.Filesystem/Stat`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Connect-Protocol-Version': '1' },
      body: JSON.stringify({ path: 'good.txt' }),
    });
    expect(await unnamed.json()).toMatchObject({ code: 'unavailable' });
    const unnamedFiles = await fetch(`${e2b.server.url}/files?path=good.txt`);
    expect(unnamedFiles.status).toBe(502);
  });
});

describe('E2B envd filesystem with a small file cap', () => {
  let small: Awaited<ReturnType<typeof startE2bServer>>;
  let box: Sandbox;
  const before = process.env.HEARTH_MAX_FILE_BYTES;
  beforeAll(async () => {
    process.env.HEARTH_MAX_FILE_BYTES = '1024';
    small = await startE2bServer();
    box = await Sandbox.create();
  }, 120_000);
  afterAll(async () => {
    if (before === undefined) delete process.env.HEARTH_MAX_FILE_BYTES;
    else process.env.HEARTH_MAX_FILE_BYTES = before;
    await box?.kill();
    await small?.close();
    expect(await settledLeftovers()).toEqual([]);
  });

  it('refuses a file over the cap, counted after gzip is undone, with a 413 that says so', async () => {
    await expect(box.files.write('over.bin', 'x'.repeat(2000))).rejects.toThrow(/413.*1024 bytes/);
    // 5 000 bytes that gzip to a few dozen: the cap counts what would be written.
    await expect(box.files.write('over.txt', 'y'.repeat(5000), { gzip: true })).rejects.toThrow(
      /413.*1024 bytes/,
    );
    expect(await box.files.write('under.txt', 'z'.repeat(1000))).toMatchObject({ name: 'under.txt' });
    expect(await box.files.read('under.txt')).toBe('z'.repeat(1000));
  });
});
