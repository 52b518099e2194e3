/**
 * .ci/fresh-state.sh, the start of every CI run, for real but fenced in: in its own PID and mount
 * namespaces (it kills and unmounts only what lives there), against a cgroup tree of plain
 * directories standing in for cgroupfs, and a state root in a temp dir.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { projectRoot } from '../src/config/paths.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'hearth-ci-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const script = `
set -euo pipefail
root=$1
export HEARTH_CGROUP_ROOT=$root/cgroup HEARTH_CI_STATE_ROOT=$root/ci HEARTH_HOME=$root/home
export HEARTH_RUN_DIR=/elsewhere/run HEARTH_DB=/elsewhere/hearth.db
mkdir -p "$HEARTH_CGROUP_ROOT"/memory/hearth/bwrap-1-2-aa "$HEARTH_CGROUP_ROOT"/unified/hearth/x/y
mkdir -p "$HEARTH_CGROUP_ROOT"/hearth-old "$HEARTH_CGROUP_ROOT"/memory/other
work=$HEARTH_CI_STATE_ROOT/state/run/bwrap-1-2-aa/work
mkdir -p "$work"
echo stale > "$HEARTH_CI_STATE_ROOT"/state/hearth.db
mount -t tmpfs hearth-bwrap-1-2-aa "$work"
(exec -a "$root/bin/bwrap" sleep 600) &
sandbox=$!
sleep 600 &
unrelated=$!
sleep 0.2
source .ci/fresh-state.sh
fresh_state
sleep 0.2
echo "state=$HEARTH_STATE_DIR"
echo "run_dir=\${HEARTH_RUN_DIR:-unset} db=\${HEARTH_DB:-unset}"
echo "state_entries=$(ls -A "$HEARTH_STATE_DIR" | wc -l) mode=$(stat -c %a "$HEARTH_STATE_DIR")"
kill -0 "$sandbox" 2>/dev/null && echo "sandbox=alive" || echo "sandbox=gone"
kill -0 "$unrelated" 2>/dev/null && echo "unrelated=alive" || echo "unrelated=gone"
grep -c ' - tmpfs hearth-' /proc/self/mountinfo | sed 's/^/hearth_mounts=/' || true
echo "cgroups=$(cd "$HEARTH_CGROUP_ROOT" && find . -mindepth 1 -type d | sort | paste -sd, -)"
`;

describe('.ci/fresh-state.sh', () => {
  test('kills hearth processes, unmounts run dirs, removes hearth cgroups, and exports a new empty state dir', async () => {
    const { stdout } = await run(
      'unshare',
      ['--mount', '--pid', '--fork', '--mount-proc', 'bash', '-c', script, 'fresh-state', dir],
      { cwd: projectRoot(), timeout: 60_000 },
    );
    const out = Object.fromEntries(
      stdout
        .split(/\s+/)
        .filter((w) => w.includes('='))
        .map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]),
    );
    expect(out, stdout).toMatchObject({
      state: join(dir, 'ci', 'state'),
      run_dir: 'unset',
      db: 'unset',
      state_entries: '0',
      mode: '755',
      sandbox: 'gone',
      unrelated: 'alive',
      hearth_mounts: '0',
    });
    // Every hearth group is gone, the unified tree's and a v2-style `hearth-*` one too; others stay.
    expect(out.cgroups?.split(',').sort(), stdout).toEqual(['./memory', './memory/other', './unified']);
  });
});
