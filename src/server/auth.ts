import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HearthError } from '../errors/hearth-error.js';
import { isSandboxPlane } from './routes/e2b/plane.js';
import { GITHUB_WEBHOOK_PATH } from './routes/github-webhook.js';

/** Routes open without a token: load balancers probe /health; GitHub signs its webhook deliveries instead. */
const OPEN_ROUTES = new Set(['/health', GITHUB_WEBHOOK_PATH]);

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Bearer tokens: every request but /health needs one of `tokens` (compared in constant time). E2B
 * clients send theirs as `X-API-KEY`, which counts the same. Requests on the E2B sandbox plane carry
 * no API token: each is checked against its own sandbox's token instead (routes/e2b/plane.ts).
 */
export function installAuth(app: FastifyInstance, tokens: readonly string[]): void {
  if (!tokens.length) return;
  const known = tokens.map(digest);
  const allowed = (req: FastifyRequest): boolean => {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const apiKey = req.headers['x-api-key'];
    const token = m?.[1] ?? (typeof apiKey === 'string' && apiKey ? apiKey : undefined);
    if (!token) return false;
    const d = digest(token);
    return known.some((k) => timingSafeEqual(k, d));
  };
  app.addHook('onRequest', async (req) => {
    if (isSandboxPlane(req)) return;
    if (OPEN_ROUTES.has(req.url.split('?')[0] ?? '')) return;
    if (!allowed(req)) throw new HearthError('UNAUTHORIZED', 'a valid bearer token is required');
  });
}
