import { Octokit } from '@octokit/rest';
import type { RunConclusion } from './launcher.js';

export type CommitState = 'pending' | RunConclusion;

export interface CommitStatus {
  /** `owner/name`. */
  repository: string;
  sha: string;
  state: CommitState;
  /** The status's name on the commit: `hearth/<workflow>`. */
  context: string;
  description: string;
  targetUrl?: string;
}

export interface StatusReporterOptions {
  token: string;
  /** The REST API's root. `HEARTH_GITHUB_API_URL`; @default https://api.github.com */
  baseUrl?: string;
  /** Each call's limit. @default 10000 */
  timeoutMs?: number;
}

/** GitHub truncates nothing: a longer description is refused, so it is cut here. */
const MAX_DESCRIPTION = 140;

/** Reports workflow runs as commit statuses through GitHub's REST API (`POST /repos/{o}/{r}/statuses/{sha}`). */
export class CommitStatusReporter {
  readonly #octokit: Octokit;
  readonly #timeoutMs: number;

  constructor(o: StatusReporterOptions) {
    this.#octokit = new Octokit({
      auth: o.token,
      baseUrl: (o.baseUrl ?? 'https://api.github.com').replace(/\/+$/, ''),
      userAgent: 'hearth',
      // Octokit logs failed requests through console; hearth reports them itself.
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    });
    this.#timeoutMs = o.timeoutMs ?? 10_000;
  }

  async report(s: CommitStatus): Promise<void> {
    const [owner = '', repo = ''] = s.repository.split('/');
    const description =
      s.description.length > MAX_DESCRIPTION
        ? `${s.description.slice(0, MAX_DESCRIPTION - 1)}…`
        : s.description;
    await this.#octokit.rest.repos.createCommitStatus({
      owner,
      repo,
      sha: s.sha,
      state: s.state,
      context: s.context.slice(0, 255),
      description,
      ...(s.targetUrl ? { target_url: s.targetUrl } : {}),
      request: { signal: AbortSignal.timeout(this.#timeoutMs) },
    });
  }
}
