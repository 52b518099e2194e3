/** The jobs graph from `needs:`: unknown needs and cycles, named, and a start order. */

export interface GraphNode {
  id: string;
  needs: readonly string[];
}

export type GraphProblem =
  | { kind: 'unknown'; job: string; need: string; message: string }
  | { kind: 'cycle'; job: string; need: string; cycle: string[]; message: string };

/** Every unknown need, and one entry per cycle (reported at the edge that closes it). */
export function checkGraph(nodes: readonly GraphNode[]): GraphProblem[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const problems: GraphProblem[] = [];
  for (const node of nodes) {
    for (const need of node.needs) {
      if (!byId.has(need)) {
        problems.push({
          kind: 'unknown',
          job: node.id,
          need,
          message: `Job '${node.id}' needs job '${need}', which the workflow does not define.`,
        });
      }
    }
  }
  // Depth-first search; a need that leads back onto the current path closes a cycle.
  const state = new Map<string, 'active' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): void => {
    state.set(id, 'active');
    path.push(id);
    for (const need of byId.get(id)?.needs ?? []) {
      if (!byId.has(need)) continue;
      const s = state.get(need);
      if (s === 'active') {
        const cycle = [...path.slice(path.indexOf(need)), need];
        problems.push({
          kind: 'cycle',
          job: id,
          need,
          cycle,
          message: `Jobs form a cycle through 'needs': ${cycle.map((j) => `'${j}'`).join(' → ')}.`,
        });
      } else if (s === undefined) visit(need);
    }
    path.pop();
    state.set(id, 'done');
  };
  for (const node of nodes) if (!state.has(node.id)) visit(node.id);
  return problems;
}

/** Every job that `id` depends on, directly or not. */
export function ancestors(nodes: readonly GraphNode[], id: string): Set<string> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const out = new Set<string>();
  const stack = [...(byId.get(id)?.needs ?? [])];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    if (out.has(next)) continue;
    out.add(next);
    stack.push(...(byId.get(next)?.needs ?? []));
  }
  return out;
}
