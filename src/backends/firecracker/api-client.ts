import { request } from 'node:http';
import { HearthError } from '../../errors/hearth-error.js';

/** A minimal HTTP/1.1 client for Firecracker's API on its unix socket (JSON in, JSON or nothing out). */
export class FirecrackerApi {
  readonly socketPath: string;
  readonly #timeoutMs: number;

  constructor(opts: { socketPath: string; timeoutMs?: number }) {
    this.socketPath = opts.socketPath;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  put(path: string, body: unknown): Promise<unknown> {
    return this.call('PUT', path, body);
  }

  patch(path: string, body: unknown): Promise<unknown> {
    return this.call('PATCH', path, body);
  }

  get(path: string): Promise<unknown> {
    return this.call('GET', path);
  }

  /** One request; a non-2xx answer rejects with Firecracker's `fault_message`. */
  call(method: string, path: string, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: {
            Accept: 'application/json',
            ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
          },
          timeout: this.#timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = text;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(json);
            const fault = (json as { fault_message?: string } | undefined)?.fault_message ?? text;
            reject(
              new HearthError('SANDBOX_START_FAILED', `firecracker ${method} ${path}: ${status} ${fault}`),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', (err) =>
        reject(
          new HearthError('SANDBOX_START_FAILED', `firecracker ${method} ${path}: ${err.message}`, {
            cause: err,
          }),
        ),
      );
      req.end(payload);
    });
  }
}
