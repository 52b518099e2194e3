/**
 * Which workflows and jobs `hearth workflow run` runs, as act chooses them: the files of `-W` (a file,
 * or the YAML files of a directory), all parsed first so that an invalid one stops the command with
 * the parser's file:line:col errors; then those whose `on:` has the event, or with `-j` the workflows
 * that have the job, cut down to the job and the jobs it needs.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { HearthError } from '../errors/hearth-error.js';
import { ancestors } from '../workflows/graph.js';
import type { JobDefinition, Workflow } from '../workflows/model.js';
import { parseWorkflow } from '../workflows/parse.js';
import { readUserFile, usage } from './workflow-inputs.js';

/** A checkout's workflow directory holds a handful of files; more than this is not one. */
const MAX_WORKFLOW_FILES = 200;

export interface LoadedWorkflow {
  /** The path shown to the user: relative to the repository when inside it. */
  file: string;
  workflow: Workflow;
}

/** Parses the workflow file `path`, or each `*.yml`/`*.yaml` directly in the directory `path`. */
export async function loadWorkflows(path: string, repoDir: string): Promise<LoadedWorkflow[]> {
  let files: string[];
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    throw usage(`no workflow file or directory at ${path}`);
  }
  if (stat.isDirectory()) {
    files = readdirSync(path)
      .filter((n) => /\.ya?ml$/.test(n))
      .sort()
      .slice(0, MAX_WORKFLOW_FILES)
      .map((n) => join(path, n))
      .filter((f) => statSync(f).isFile());
  } else files = [path];
  if (files.length === 0) throw usage(`no workflow files in ${path}`);
  const loaded: LoadedWorkflow[] = [];
  const problems: string[] = [];
  for (const full of files) {
    const rel = relative(repoDir, full);
    const file = rel.startsWith('..') ? full : rel;
    try {
      const content = readUserFile(full, '--workflows') ?? '';
      loaded.push({ file, workflow: await parseWorkflow({ file, content }) });
    } catch (err) {
      if (!(err instanceof HearthError) || err.code !== 'WORKFLOW_INVALID') throw err;
      problems.push(err.message);
    }
  }
  if (problems.length > 0) throw new HearthError('WORKFLOW_INVALID', problems.join('\n'));
  return loaded;
}

/** The workflows to run: those triggered by `event`, or (with a job) those having it, cut to it and its needs. */
export function selectWorkflows(all: LoadedWorkflow[], o: { event: string; job?: string }): LoadedWorkflow[] {
  if (o.job === undefined) return all.filter((w) => o.event in w.workflow.on);
  const job = o.job;
  const having = all.filter((w) => w.workflow.jobs.some((j) => j.id === job));
  if (having.length === 0) throw usage(`no workflow has a job '${job}' (see --list)`);
  return having.map((w) => {
    const keep = ancestors(w.workflow.jobs, job);
    keep.add(job);
    return { ...w, workflow: { ...w.workflow, jobs: w.workflow.jobs.filter((j) => keep.has(j.id)) } };
  });
}

/** A job's stage: 0 without needs, else one past the latest of its needs (act's --list column). */
export function stages(jobs: readonly JobDefinition[]): Map<string, number> {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const out = new Map<string, number>();
  const stageOf = (id: string, depth: number): number => {
    const known = out.get(id);
    if (known !== undefined) return known;
    const job = byId.get(id);
    // The parser refuses cycles; the depth bound keeps a malformed graph from recursing without end.
    if (!job || depth > jobs.length) return 0;
    const s = job.needs.length === 0 ? 0 : 1 + Math.max(...job.needs.map((n) => stageOf(n, depth + 1)));
    out.set(id, s);
    return s;
  };
  for (const j of jobs) stageOf(j.id, 0);
  return out;
}

/** `--list`: stage, job id, job name, workflow name, workflow file, events; in stage order. */
export function listTable(workflows: LoadedWorkflow[]): string[][] {
  const rows: string[][] = [];
  for (const { file, workflow } of workflows) {
    const stage = stages(workflow.jobs);
    for (const job of workflow.jobs) {
      const name = job.name?.kind === 'literal' && job.name.value !== null ? String(job.name.value) : job.id;
      rows.push([
        String(stage.get(job.id) ?? 0),
        job.id,
        name,
        workflow.name,
        file,
        Object.keys(workflow.on).join(','),
      ]);
    }
  }
  rows.sort((a, b) => Number(a[0]) - Number(b[0]));
  return [['Stage', 'Job ID', 'Job name', 'Workflow name', 'Workflow file', 'Events'], ...rows];
}

/** Rows as aligned columns (two spaces apart), each line ending in a newline. */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  return rows
    .map((row) => `${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')}\n`)
    .join('');
}
