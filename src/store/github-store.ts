/** What became of a webhook delivery. */
export type DeliveryStatus = 'queued' | 'launched' | 'no-match' | 'failed';

export interface DeliveryRow {
  /** X-GitHub-Delivery. */
  id: string;
  event: string;
  repository: string | null;
  status: DeliveryStatus;
  /** Why it ran nothing, what it launched, or how it failed. */
  detail: string | null;
  receivedAtMs: number;
  updatedAtMs: number;
}

/** A workflow file a request runs. */
export interface RequestedWorkflow {
  /** `.github/workflows/ci.yml`. */
  path: string;
  /** Its `name:`, or the path. */
  name: string;
}

/** A run asked for by a delivery, as the runner takes it up. */
export interface WorkflowRequestRow {
  id: string;
  deliveryId: string | null;
  repository: string;
  ref: string;
  sha: string;
  event: string;
  workflows: RequestedWorkflow[];
  payload: unknown;
  state: 'queued';
  createdAtMs: number;
}

/** GitHub deliveries and the workflow runs they ask for, as rows. */
export interface GitHubStore {
  /** Records a new delivery with its payload; false (and nothing written) when its id was seen before. */
  recordDelivery(d: {
    id: string;
    event: string;
    repository: string | null;
    payload: string;
    atMs: number;
  }): Promise<boolean>;
  /** Its outcome; the payload is dropped. */
  finishDelivery(
    id: string,
    status: Exclude<DeliveryStatus, 'queued'>,
    detail: string,
    atMs: number,
  ): Promise<void>;
  getDelivery(id: string): Promise<DeliveryRow | undefined>;
  /** Deliveries received but not handled (the server stopped first), oldest first, with their payloads. */
  queuedDeliveries(limit: number): Promise<Array<DeliveryRow & { payload: string }>>;
  insertWorkflowRequest(row: WorkflowRequestRow): Promise<void>;
  /** Newest first. */
  listWorkflowRequests(opts: { limit: number; deliveryId?: string }): Promise<WorkflowRequestRow[]>;
}
