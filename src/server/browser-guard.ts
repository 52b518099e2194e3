import { BlockList, isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HearthError } from '../errors/hearth-error.js';
import { GITHUB_WEBHOOK_PATH } from './routes/github-webhook.js';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Is `host` a loopback name or address: `localhost`, an IPv4 address in 127.0.0.0/8 or `::1` — parsed
 * as an address, so `127.evil.example` (a name anyone can point anywhere) is not.
 */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost') return true;
  const family = isIP(h);
  return family === 4 ? LOOPBACK.check(h, 'ipv4') : family === 6 ? LOOPBACK.check(h, 'ipv6') : false;
}

/** The host name of a Host header (`name:port`, `[v6]:port`), or undefined if it is not one. */
function hostnameOf(header: string): string | undefined {
  try {
    const u = new URL(`http://${header}`);
    if (u.username || u.password || u.pathname !== '/' || u.search || u.hash) return undefined;
    return u.hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return undefined;
  }
}

export interface BrowserGuardOptions {
  /** Host names (besides loopback ones) a token-less server answers to. `HEARTH_ALLOWED_HOSTS`; @default [] */
  allowedHosts?: readonly string[];
}

/**
 * A token-less server trusts whoever reaches it, which on loopback means local programs — and any
 * web page the user opens, unless browsers are kept out. Two checks do that:
 * - the Host header must name a loopback host (or an allowed one), so a page on a DNS-rebound name
 *   (`evil.example` resolving to 127.0.0.1) is refused even though its requests reach us;
 * - a request with an Origin header (browsers send one with every cross-origin fetch and every
 *   WebSocket) must come from the server's own origin, which no page outside hearth has.
 * CLI and SDK clients send no Origin and a loopback Host, so they pass. With tokens the checks are
 * off: browsers never attach a bearer token on their own, so a page cannot act as the user, and
 * servers beyond loopback (which need tokens) keep working behind proxies with any Host.
 */
export function installBrowserGuard(app: FastifyInstance, o: BrowserGuardOptions = {}): void {
  const allowed = new Set((o.allowedHosts ?? []).map((h) => h.trim().toLowerCase()).filter(Boolean));
  const check = (req: FastifyRequest): void => {
    const host = req.headers.host;
    if (host !== undefined) {
      const name = hostnameOf(host)?.toLowerCase();
      if (name === undefined || !(isLoopback(name) || allowed.has(name))) {
        throw new HearthError('FORBIDDEN_HOST', `this server does not answer to the host "${host}"`);
      }
    }
    const origin = req.headers.origin;
    if (origin === undefined) return;
    const own = host === undefined ? [] : [`http://${host}`, `https://${host}`].map((s) => s.toLowerCase());
    if (!own.includes(origin.toLowerCase())) {
      throw new HearthError('FORBIDDEN_ORIGIN', `requests from the origin "${origin}" are refused`);
    }
  };
  app.addHook('onRequest', async (req) => {
    // GitHub reaches the webhook by a public name through a tunnel or proxy; its signature is the check.
    if (req.url.split('?')[0] === GITHUB_WEBHOOK_PATH) return;
    check(req);
  });
}
