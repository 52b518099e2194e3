import { HearthError } from '../errors/hearth-error.js';

/** Where the RLM loop finds its models; read once from the environment (as the openai client is configured). */
export interface RlmConfig {
  /** An OpenAI-compatible endpoint. `OPENAI_BASE_URL`; @default https://api.openai.com/v1 */
  baseUrl?: string;
  /** `OPENAI_API_KEY`; @default none (a local endpoint may not ask for one) */
  apiKey?: string;
  /** The root model. `HEARTH_RLM_MODEL`; @default none: each run must name it */
  model?: string;
  /** The model of llm_query and QUERY_LLM. `HEARTH_RLM_SUB_MODEL`; @default the root model */
  subModel?: string;
  /** Host files a server run may load as its context live under here. `HEARTH_RLM_CONTEXT_DIR`; @default none: contextFile refused */
  contextDir?: string;
}

export function rlmConfig(env: NodeJS.ProcessEnv = process.env): RlmConfig {
  const pick = (k: string) => env[k]?.trim() || undefined;
  const c: RlmConfig = {};
  const set = <K extends keyof RlmConfig>(k: K, v: RlmConfig[K] | undefined) => {
    if (v !== undefined) c[k] = v;
  };
  set('baseUrl', pick('OPENAI_BASE_URL'));
  set('apiKey', pick('OPENAI_API_KEY'));
  set('model', pick('HEARTH_RLM_MODEL'));
  set('subModel', pick('HEARTH_RLM_SUB_MODEL'));
  set('contextDir', pick('HEARTH_RLM_CONTEXT_DIR'));
  return c;
}

/** The root and sub model of a run: the request's names, else the configured ones. */
export function modelsFor(
  config: RlmConfig,
  req: { rootModel?: string; subModel?: string },
): { rootModel: string; subModel: string } {
  const rootModel = req.rootModel ?? config.model;
  if (!rootModel) {
    throw new HearthError(
      'RLM_MODEL_MISSING',
      'no root model: the request names none and HEARTH_RLM_MODEL is unset',
    );
  }
  return { rootModel, subModel: req.subModel ?? config.subModel ?? rootModel };
}
