import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lessonConfidence } from '../src/learning/knowledge.js';
import { argvToLine, normalizeScript, normalizeWords } from '../src/learning/normalize.js';
import { LearningService } from '../src/learning/service.js';
import { errorSignature } from '../src/learning/signature.js';
import { type ExecFinishedEvent, ManagerEventBus } from '../src/sandboxes/events.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

let seq = 0;
/** A finished exec as the manager reports it. */
function exec(
  what: { shell: string } | { argv: string[] },
  o: { exitCode?: number; stderr?: string; labels?: Record<string, string>; durationMs?: number } = {},
): ExecFinishedEvent {
  seq++;
  return {
    execId: seq,
    sandboxId: 'sb-1',
    backend: 'bwrap',
    image: 'default',
    labels: o.labels ?? { session: 's-1' },
    what: { kind: 'command', ...what },
    startedAtMs: 1_700_000_000_000 + seq,
    durationMs: o.durationMs ?? 10,
    exitCode: o.exitCode ?? 0,
    signal: null,
    timedOut: false,
    stderrHead: o.stderr ?? '',
  };
}

describe('normalization and signatures', () => {
  it('keeps program and subcommand, drops arguments, splits scripts and unwraps shells', () => {
    expect(
      normalizeScript(
        'cd /src && npm ci --no-audit | tee log; FOO=1 sudo -E pip install requests==2.31\n# note\nif true; then git commit -m "a && b"; fi',
      ),
    ).toEqual(['cd', 'npm ci', 'tee', 'pip install', 'true', 'git commit']);
    expect(
      normalizeWords(['bash', '-lc', 'cargo test --release && /usr/bin/python3.11 -m pytest -q']),
    ).toEqual(['cargo test', 'python3 -m pytest']);
    expect(normalizeWords(['sh', '-c', "sh -c 'go build ./...'"])).toEqual(['go build']);
    expect(normalizeWords(['python3', '/work/main.py', '--flag'])).toEqual(['python3']);
    expect(normalizeScript('make 2>&1 | grep error')).toEqual(['make', 'grep']);
    expect(argvToLine(['echo', "it's a b"])).toBe("echo 'it'\\''s a b'");
  });

  it('masks numbers, paths and hashes in the first meaningful error line', () => {
    const a = errorSignature({
      exitCode: 1,
      signal: null,
      timedOut: false,
      stderrHead: 'npm warn old\nerror: cannot open /tmp/build-123/out.o at 0x7ffd12 (commit 3f9a2c1d)\n',
    });
    const b = errorSignature({
      exitCode: 1,
      signal: null,
      timedOut: false,
      stderrHead: 'error: cannot open /var/x/out.o at 0x1 (commit 99aa00bb)\n',
    });
    expect(a).toBe(b);
    expect(a).toBe('error: cannot open <path> at <addr> (commit <hash>)');
    expect(
      errorSignature({
        exitCode: 1,
        signal: null,
        timedOut: false,
        stderrHead:
          'Traceback (most recent call last):\n  File "/w/x.py", line 3\nModuleNotFoundError: No module named \'foo\'\n',
      }),
    ).toBe("ModuleNotFoundError: No module named 'foo'");
    expect(errorSignature({ exitCode: 3, signal: null, timedOut: false, stderrHead: '' })).toBe(
      'exit code 3',
    );
    expect(errorSignature({ exitCode: null, signal: null, timedOut: true, stderrHead: 'x' })).toBe(
      'timed out',
    );
  });
});

describe('the graph on a real SQLite file', () => {
  let dir: string;
  let store: SqliteStore;
  let learning: LearningService;
  let bus: ManagerEventBus;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hearth-learning-'));
    store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
    learning = new LearningService({ store: store.learning });
    bus = new ManagerEventBus();
    await learning.start(bus);
  });

  afterEach(async () => {
    await learning.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('three identical failures make exactly one lesson, with the fix that followed', async () => {
    for (let i = 0; i < 3; i++) {
      const labels = { session: `s-${i}` };
      bus.emit(
        'exec.finished',
        exec(
          { shell: `pip install pkg==1.${i}` },
          { exitCode: 1, stderr: `ERROR: No matching distribution found for pkg==1.${i}\n`, labels },
        ),
      );
      bus.emit('exec.finished', exec({ shell: 'apt-get install -y python3-pkg' }, { labels }));
    }
    // Two other failures of the same command with another signature: not yet a lesson.
    bus.emit('exec.finished', exec({ shell: 'pip install x' }, { exitCode: 1, stderr: 'Killed\n' }));
    bus.emit('exec.finished', exec({ shell: 'pip install x' }, { exitCode: 1, stderr: 'Killed\n' }));
    await learning.recorder.flush();
    const lessons = await learning.knowledge.lessons();
    expect(lessons).toEqual([
      {
        command: 'pip install',
        signature: 'ERROR: No matching distribution found for pkg==<version>',
        occurrences: 3,
        confidence: 0.7 + 0.15,
        fix: 'apt-get install',
        fixCount: 3,
      },
    ]);
    expect(lessonConfidence(3)).toBeCloseTo(0.85);
    expect(lessonConfidence(10)).toBe(1);
    const suggestions = await learning.knowledge.suggestions('pip install --user x');
    expect(suggestions[0]).toMatchObject({
      kind: 'avoid-failure',
      command: 'pip install',
      alternative: 'apt-get install',
    });
  });

  it('successes and failures share one edge: 8 and 2 predict (8+1)/(10+2)', async () => {
    for (let i = 0; i < 10; i++) {
      const labels = { session: `p-${i}` };
      bus.emit('exec.finished', exec({ argv: ['git', 'clone', `https://x/${i}`] }, { labels }));
      bus.emit(
        'exec.finished',
        exec(
          { shell: `npm ci --prefix /w/${i}` },
          { labels, exitCode: i < 2 ? 1 : 0, stderr: 'npm ERR! network' },
        ),
      );
    }
    await learning.recorder.flush();
    const p = await learning.knowledge.predictSuccess('npm ci', 'git clone https://example/repo');
    expect(p).toMatchObject({
      basis: 'edge',
      evidence: 10,
      successes: 8,
      failures: 2,
      previous: 'git clone',
    });
    expect(p.probability).toBe(9 / 12);
    // No such edge: the node's rate; nothing seen: the prior.
    const node = await learning.knowledge.predictSuccess('npm ci', 'ls');
    expect(node).toMatchObject({ basis: 'node', evidence: 10, probability: 9 / 12 });
    expect(await learning.knowledge.predictSuccess('cargo build')).toMatchObject({
      basis: 'prior',
      evidence: 0,
      probability: 0.5,
    });
  });

  it('related commands come back in co-occurrence order', async () => {
    const script = (s: string, n: number) => {
      for (let i = 0; i < n; i++)
        bus.emit('exec.finished', exec({ shell: s }, { labels: { job: `${s}-${i}` } }));
    };
    script('git pull && make', 5);
    script('make && make install', 3);
    script('cmake . && make', 1);
    script('make; ls', 2);
    await learning.recorder.flush();
    expect(await learning.knowledge.relatedCommands('make')).toEqual([
      { command: 'git pull', count: 5 },
      { command: 'ls', count: 2 },
      { command: 'cmake', count: 1 },
    ]);
  });

  it('a slow command is worth caching; a failing one has a better alternative', async () => {
    for (let i = 0; i < 5; i++)
      bus.emit('exec.finished', exec({ shell: 'cargo build --release' }, { durationMs: 40_000 }));
    for (let i = 0; i < 6; i++)
      bus.emit('exec.finished', exec({ shell: 'npm ci' }, { exitCode: 1, stderr: `npm ERR! code E${i}` }));
    for (let i = 0; i < 6; i++) bus.emit('exec.finished', exec({ shell: 'npm install' }));
    await learning.recorder.flush();
    expect(await learning.knowledge.suggestions('cargo build')).toEqual([
      expect.objectContaining({ kind: 'cache', command: 'cargo build' }),
    ]);
    expect(await learning.knowledge.suggestions('npm ci')).toContainEqual(
      expect.objectContaining({ kind: 'alternative', alternative: 'npm install' }),
    );
  });

  it('a listener that throws does not fail the exec; a failing store loses outcomes, not commands', async () => {
    const warnings: string[] = [];
    const bus2 = new ManagerEventBus(() => warnings.push('listener'));
    bus2.on('exec.finished', () => {
      throw new Error('boom');
    });
    const l2 = new LearningService({ store: store.learning, onWarning: (_o, m) => warnings.push(m) });
    await l2.start(bus2);
    expect(() => bus2.emit('exec.finished', exec({ shell: 'echo hi' }))).not.toThrow();
    await l2.recorder.flush();
    expect((await store.learning.getCommand('echo'))?.successes).toBe(1);
    await store.close();
    bus2.emit('exec.finished', exec({ shell: 'echo again' }));
    await l2.recorder.flush();
    expect(warnings).toEqual(['listener', 'listener', 'cannot record command outcomes; dropped']);
    await l2.close();
    store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  });
});
