import type { RlmRun, RlmStep } from '../api/rlm.js';

/** A run as it starts. */
export interface NewRlmRun {
  id: string;
  parentId: string | null;
  depth: number;
  query: string;
  rootModel: string;
  subModel: string;
  backend: string;
  budgets: object;
  createdAtMs: number;
}

/** How a run ended. */
export interface FinishRlmRun {
  id: string;
  stopReason: NonNullable<RlmRun['stopReason']>;
  answer: string | null;
  error: RlmRun['error'];
  tokensIn: number;
  tokensOut: number;
  iterations: number;
  finishedAtMs: number;
  /** The backend the run's session got, once known (the request may have named none). */
  backend?: string;
}

/** RLM runs and their steps, as rows: a run is replayed by reading its steps in order. */
export interface RlmStore {
  createRun(run: NewRlmRun): Promise<void>;
  addStep(step: RlmStep): Promise<void>;
  finishRun(f: FinishRlmRun): Promise<void>;
  /** The run with its steps in order; undefined if there is none. */
  getRun(id: string): Promise<RlmRun | undefined>;
  /** The runs an rlm_query of this one started. */
  childRuns(parentId: string): Promise<string[]>;
}
