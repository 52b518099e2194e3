/**
 * The command knowledge graph: `validate` on a 10 KB script against a 10,000-term thesaurus, and
 * what recording one outcome costs — on the exec's path (the listener) and off it (the batched
 * write) — each against a floor measured in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { LearningService } from '../src/learning/service.js';
import { type ExecFinishedEvent, ManagerEventBus } from '../src/sandboxes/events.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { ms, ratio, report, sample } from './lib.js';

const PROGRAMS = ['git', 'npm', 'pip', 'cargo', 'make', 'python3', 'node', 'docker', 'go', 'curl'];

/** A 10 KB script of known commands (learned `tool-<odd>` ones among them), with a few unknown ones and typos. */
function script(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = [
      `git commit -m "change ${i}" && npm ci --no-audit`,
      `pip install requests==2.${i % 30} | tee /tmp/log-${i}`,
      `cargo test --release -p crate${i % 7}; make -j4 all`,
      `python3 -m pytest -q tests/test_${i}.py || echo failed`,
      `tool-${(i % 4000) * 2 + 1} --flag ${i}`,
      i % 50 === 0 ? 'gti status && frobnicate --all' : 'ls -la /work',
    ][i % 6] as string;
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join('\n').slice(0, bytes);
}

function finished(i: number): ExecFinishedEvent {
  return {
    execId: i,
    sandboxId: `sb-${i % 16}`,
    backend: 'bwrap',
    image: 'default',
    labels: { session: `s-${i % 16}` },
    what: { kind: 'command', shell: `${PROGRAMS[i % PROGRAMS.length]} build --out /tmp/x${i}` },
    startedAtMs: Date.now(),
    durationMs: 12,
    exitCode: i % 5 === 0 ? 1 : 0,
    signal: null,
    timedOut: false,
    stderrHead: i % 5 === 0 ? `error: cannot find /tmp/x${i}/lib.so (code ${i})\n` : '',
  };
}

export default async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-learning-'));
  const store = await SqliteStore.open({ path: join(dir, 'hearth.db') });
  const learning = new LearningService({ store: store.learning });
  try {
    for (let i = 0; learning.thesaurus.size < 10_000; i++) {
      learning.thesaurus.add(i % 2 ? `tool-${i}` : `${PROGRAMS[i % PROGRAMS.length]} sub${i}`);
    }
    const input = script(10 * 1024);
    learning.validate(input, 'strict');
    // Floor: the least a check of every word can cost — split the input and look each word up in a Set.
    const known = new Set(learning.thesaurus.terms());
    const floor = await sample(200, () => {
      let n = 0;
      for (const w of input.toLowerCase().split(/\s+/)) if (known.has(w)) n++;
      return n;
    });
    const validate = await sample(200, () => learning.validate(input, 'strict'));
    report({
      group: 'learning',
      name: `validate 10 KB, ${learning.thesaurus.size} terms (p50)`,
      value: ms(validate.p50),
      ratio: ratio(validate.p50, floor.p50, 'floor (split + Set lookups)'),
      target: '≤ 1 ms',
      met: validate.p50 <= 1,
    });

    // On the exec's path: emitting exec.finished to the recorder, against a bus with an empty listener.
    const bare = new ManagerEventBus();
    bare.on('exec.finished', () => {});
    const bus = new ManagerEventBus();
    await learning.start(bus);
    const events = Array.from({ length: 2000 }, (_, i) => finished(i));
    let k = 0;
    const emptyEmit = await sample(2000, () =>
      bare.emit('exec.finished', events[k++ % events.length] as ExecFinishedEvent),
    );
    k = 0;
    const onPath = await sample(2000, () =>
      bus.emit('exec.finished', events[k++ % events.length] as ExecFinishedEvent),
    );
    await learning.recorder.flush();
    report({
      group: 'learning',
      name: 'record one outcome, on the exec path (p50)',
      value: ms(onPath.p50),
      ratio: ratio(onPath.p50, emptyEmit.p50, 'floor (emit to an empty listener)'),
      target: '≤ 0.5 ms',
      met: onPath.p50 <= 0.5,
    });

    // Off the path: normalizing and writing a batch of 100, per outcome, against one plain insert per row.
    const raw = new Sqlite(join(dir, 'floor.db'));
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.exec('create table t (a text, b integer)');
    const insert = raw.prepare('insert into t values (?, ?)');
    const insertBatch = raw.transaction((n: number) => {
      for (let i = 0; i < n; i++) insert.run(`row ${i}`, i);
    });
    const plain = await sample(50, () => insertBatch(100));
    const batch = await sample(50, async () => {
      for (let i = 0; i < 100; i++)
        learning.recorder.record(events[k++ % events.length] as ExecFinishedEvent);
      await learning.recorder.flush();
    });
    raw.close();
    report({
      group: 'learning',
      name: 'record one outcome, off the path (p50)',
      value: ms(batch.p50 / 100),
      ratio: ratio(batch.p50, plain.p50, 'floor (one plain SQLite insert per outcome)'),
      target: '≤ 0.5 ms',
      met: batch.p50 / 100 <= 0.5,
    });
  } finally {
    await learning.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
