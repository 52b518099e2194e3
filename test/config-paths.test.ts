/** hearth's home split into caches that may carry over and state that starts fresh. */
import { describe, expect, test } from 'vitest';
import { hearthPaths } from '../src/config/paths.js';

describe('hearthPaths', () => {
  test('by default the state stays where earlier versions kept it, inside HEARTH_HOME', () => {
    const p = hearthPaths({ HEARTH_HOME: '/h' });
    expect(p).toMatchObject({
      home: '/h',
      state: '/h',
      run: '/h/run',
      db: '/h/hearth.db',
      templates: '/h/vm/templates',
      accelVerdict: '/h/vm/accel.json',
      cgroupRoot: '/sys/fs/cgroup',
      kvmDevice: '/dev/kvm',
    });
  });

  test('HEARTH_STATE_DIR moves every piece of state and none of the caches', () => {
    const p = hearthPaths({ HEARTH_HOME: '/h', HEARTH_STATE_DIR: '/s' });
    expect(p).toMatchObject({
      images: '/h/images',
      tools: '/h/tools',
      vm: '/h/vm',
      cache: '/h/cache',
      run: '/s/run',
      db: '/s/hearth.db',
      templates: '/s/vm/templates',
      accelVerdict: '/s/vm/accel.json',
    });
  });

  test('HEARTH_RUN_DIR and HEARTH_DB still name their own places', () => {
    const p = hearthPaths({ HEARTH_STATE_DIR: '/s', HEARTH_RUN_DIR: '/r', HEARTH_DB: '/d.db' });
    expect(p).toMatchObject({ run: '/r', db: '/d.db', templates: '/s/vm/templates' });
  });

  test('the host paths hearth probes are configurable', () => {
    const p = hearthPaths({ HEARTH_CGROUP_ROOT: '/cg', HEARTH_KVM_DEVICE: '/dev/null' });
    expect(p).toMatchObject({ cgroupRoot: '/cg', kvmDevice: '/dev/null' });
  });
});
