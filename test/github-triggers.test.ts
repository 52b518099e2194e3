import { describe, expect, it } from 'vitest';
import { type TriggerEvent, triggersFor } from '../src/github/triggers.js';

describe("triggersFor: on: filters with GitHub's pattern rules", () => {
  const pushTo = (ref: string, changedFiles?: string[]): TriggerEvent => ({
    name: 'push',
    ref,
    ...(changedFiles ? { changedFiles } : {}),
  });

  it('reads on: as a string, a list or a map', () => {
    expect(triggersFor('on: push', pushTo('refs/heads/x')).matched).toBe(true);
    expect(triggersFor('on: [pull_request, push]', pushTo('refs/heads/x')).matched).toBe(true);
    expect(triggersFor('on: { pull_request: {} }', pushTo('refs/heads/x')).matched).toBe(false);
  });

  it('keeps branch pushes and tag pushes apart', () => {
    const tagsOnly = 'on: { push: { tags: ["v*"] } }';
    expect(triggersFor(tagsOnly, pushTo('refs/tags/v1.2')).matched).toBe(true);
    expect(triggersFor(tagsOnly, pushTo('refs/heads/main')).matched).toBe(false);
    const branchesOnly = 'on: { push: { branches: [main] } }';
    expect(triggersFor(branchesOnly, pushTo('refs/tags/v1.2')).matched).toBe(false);
    // Tags are not subject to paths filters.
    expect(
      triggersFor('on: { push: { paths: ["src/**"] } }', pushTo('refs/tags/v1', ['docs/a'])).matched,
    ).toBe(true);
  });

  it('applies *, **, ?, + and ! as GitHub does', () => {
    const on = (filters: string) => `on: { push: { ${filters} } }`;
    expect(triggersFor(on('branches: ["feature/*"]'), pushTo('refs/heads/feature/a')).matched).toBe(true);
    expect(triggersFor(on('branches: ["feature/*"]'), pushTo('refs/heads/feature/a/b')).matched).toBe(false);
    expect(triggersFor(on('branches: ["feature/**"]'), pushTo('refs/heads/feature/a/b')).matched).toBe(true);
    const ordered = on('branches: ["releases/**", "!releases/**-alpha"]');
    expect(triggersFor(ordered, pushTo('refs/heads/releases/10')).matched).toBe(true);
    expect(triggersFor(ordered, pushTo('refs/heads/releases/10-alpha')).matched).toBe(false);
    expect(triggersFor(on('branches-ignore: ["dev*"]'), pushTo('refs/heads/devel')).matched).toBe(false);
    expect(triggersFor(on('branches-ignore: ["dev*"]'), pushTo('refs/heads/main')).matched).toBe(true);
    const readme = on('paths: ["**/README.md"]');
    expect(triggersFor(readme, pushTo('refs/heads/m', ['README.md'])).matched).toBe(true);
    expect(triggersFor(readme, pushTo('refs/heads/m', ['a/b/README.md'])).matched).toBe(true);
    expect(triggersFor(readme, pushTo('refs/heads/m', ['README.txt'])).matched).toBe(false);
    const jsx = on('paths: ["*.jsx?"]');
    expect(triggersFor(jsx, pushTo('refs/heads/m', ['a.js'])).matched).toBe(true);
    expect(triggersFor(jsx, pushTo('refs/heads/m', ['a.jsx'])).matched).toBe(true);
    expect(triggersFor(jsx, pushTo('refs/heads/m', ['a.jsxx', 'src/a.js'])).matched).toBe(false);
    expect(triggersFor(on('tags: ["v[12].+"]'), pushTo('refs/tags/v1....')).matched).toBe(true);
    expect(triggersFor(on('tags: ["v[12].+"]'), pushTo('refs/tags/v3.')).matched).toBe(false);
    const ignore = on('paths-ignore: ["docs/**"]');
    expect(triggersFor(ignore, pushTo('refs/heads/m', ['docs/a.md'])).matched).toBe(false);
    expect(triggersFor(ignore, pushTo('refs/heads/m', ['docs/a.md', 'src/a.ts'])).matched).toBe(true);
  });

  it('does not run an invalid workflow, and says why', () => {
    expect(triggersFor('on: [push', pushTo('refs/heads/m')).reason).toContain('invalid workflow');
    const both = triggersFor('on: { push: { branches: [a], branches-ignore: [b] } }', pushTo('refs/heads/a'));
    expect(both).toMatchObject({ matched: false });
    expect(both.reason).toContain('both branches and branches-ignore');
    expect(triggersFor('jobs: {}', pushTo('refs/heads/m')).reason).toContain('no `on:`');
  });
});
