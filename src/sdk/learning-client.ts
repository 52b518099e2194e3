import type {
  CommandList,
  LessonList,
  Prediction,
  RelatedList,
  Strictness,
  ValidationResult,
} from '../api/learning.js';
import { type ConnectionOptions, HttpCore } from './http.js';

/** The command knowledge graph and input validation over HTTP (`/v1/learning/*`, `/v1/validate`). */
export class LearningClient {
  readonly http: HttpCore;

  constructor(opts: ConnectionOptions = {}) {
    this.http = new HttpCore(opts);
  }

  /** Checks a command line or script against the server's thesaurus. @default strictness normal */
  validate(input: string, strictness?: Strictness): Promise<ValidationResult> {
    return this.http.json('POST', '/v1/validate', { body: { input, ...(strictness ? { strictness } : {}) } });
  }

  commands(opts: { limit?: number } = {}): Promise<CommandList> {
    return this.http.json('GET', '/v1/learning/commands', { query: { limit: opts.limit } });
  }

  predict(command: string, previous?: string): Promise<Prediction> {
    return this.http.json('GET', '/v1/learning/predict', { query: { command, previous } });
  }

  related(command: string, opts: { limit?: number } = {}): Promise<RelatedList> {
    return this.http.json('GET', '/v1/learning/related', { query: { command, limit: opts.limit } });
  }

  lessons(opts: { command?: string; limit?: number } = {}): Promise<LessonList> {
    return this.http.json('GET', '/v1/learning/lessons', {
      query: { command: opts.command, limit: opts.limit },
    });
  }
}
