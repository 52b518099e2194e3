import { normalizeScript } from '../../learning/normalize.js';
import type { StepAdvice, StepAdvisor } from './types.js';

/**
 * The advice for a `run:` step, asked of the knowledge graph before the step runs. A script's
 * outcome is recorded on its last command (a shell does not say which part failed), so that is the
 * command predicted; the one before it is the script's previous command, or the last command of the
 * step before. Anything the graph throws is swallowed: advice never fails a step.
 */
export async function stepAdvice(
  advisor: StepAdvisor,
  script: string,
  previousScript: string | undefined,
): Promise<StepAdvice | undefined> {
  try {
    const commands = normalizeScript(script);
    const command = commands.at(-1);
    if (!command) return undefined;
    const previous = commands.at(-2) ?? (previousScript ? normalizeScript(previousScript).at(-1) : undefined);
    const [p, lessons] = await Promise.all([
      advisor.predictSuccess(command, previous),
      advisor.lessons({ command }),
    ]);
    return {
      command: p.command,
      previous: p.previous,
      probability: p.probability,
      basis: p.basis,
      evidence: p.evidence,
      lessons: lessons.map((l) => ({
        signature: l.signature,
        occurrences: l.occurrences,
        confidence: l.confidence,
        fix: l.fix,
      })),
    };
  } catch {
    return undefined;
  }
}
