import { verify } from '@octokit/webhooks-methods';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HearthError } from '../../errors/hearth-error.js';
import type { WebhookDispatcher } from '../../github/dispatcher.js';
import { routeEvent } from '../../github/events.js';
import { ErrorSchema } from '../schemas.js';

/** The route GitHub posts to; it authenticates by the payload's signature, not by a bearer token. */
export const GITHUB_WEBHOOK_PATH = '/v1/github/webhook';

/** GitHub caps a delivery's payload at 25 MiB. */
const BODY_LIMIT_BYTES = 25 * 1024 * 1024;
const DELIVERY_ID = /^[A-Za-z0-9-]{1,100}$/;

export interface GitHubWebhookRouteOptions {
  /** `HEARTH_GITHUB_WEBHOOK_SECRET`; without it the route answers 503 WEBHOOK_NOT_CONFIGURED. */
  secret?: string;
  /** Where accepted deliveries go; present whenever `secret` is. */
  dispatcher?: WebhookDispatcher;
}

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' && v ? v : undefined;
};

/** The payload of a JSON or a form-encoded (`payload=`) delivery. */
function payloadOf(req: FastifyRequest, text: string): unknown {
  const type = (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  let json: string | null = text;
  if (type === 'application/x-www-form-urlencoded') json = new URLSearchParams(text).get('payload');
  else if (type !== 'application/json') {
    throw new HearthError(
      'UNSUPPORTED_MEDIA_TYPE',
      `a webhook delivery of type "${type}" is not understood`,
      {
        hint: "Set the webhook's content type to application/json (or application/x-www-form-urlencoded) in GitHub.",
      },
    );
  }
  try {
    return JSON.parse(json ?? '');
  } catch (err) {
    throw new HearthError('INVALID_JSON', 'the webhook payload is not JSON', { cause: err });
  }
}

/**
 * POST /v1/github/webhook. Registered in a scope of its own: the signature covers the raw bytes, so
 * every body is taken as a Buffer here, never parsed by the server's JSON parser first.
 */
export async function githubWebhookRoutes(app: FastifyInstance, o: GitHubWebhookRouteOptions): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES }, (_req, body, done) =>
    done(null, body),
  );
  app.post(
    GITHUB_WEBHOOK_PATH,
    {
      bodyLimit: BODY_LIMIT_BYTES,
      schema: {
        summary: 'A GitHub webhook delivery: push, pull_request and workflow_dispatch queue workflow runs',
        response: {
          200: Type.Object({ status: Type.String(), delivery: Type.Optional(Type.String()) }),
          202: Type.Object({
            status: Type.String(),
            delivery: Type.String(),
            reason: Type.Optional(Type.String()),
          }),
          400: ErrorSchema,
          401: ErrorSchema,
          415: ErrorSchema,
          429: ErrorSchema,
          503: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const { secret, dispatcher } = o;
      if (!secret || !dispatcher) {
        throw new HearthError(
          'WEBHOOK_NOT_CONFIGURED',
          'this server takes no GitHub webhooks: it has no webhook secret',
        );
      }
      const signature = header(req, 'x-hub-signature-256');
      if (!signature)
        throw new HearthError('WEBHOOK_SIGNATURE_MISSING', 'the delivery has no X-Hub-Signature-256');
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (!body.length) throw new HearthError('BAD_REQUEST', 'the delivery has no body');
      const text = body.toString('utf8');
      // verify() compares the HMAC-SHA256 of the raw body in constant time.
      if (!(await verify(secret, text, signature))) {
        throw new HearthError(
          'WEBHOOK_SIGNATURE_INVALID',
          'the X-Hub-Signature-256 of the delivery does not match',
        );
      }
      const event = header(req, 'x-github-event');
      const delivery = header(req, 'x-github-delivery');
      if (!event || !delivery || !DELIVERY_ID.test(delivery)) {
        throw new HearthError(
          'BAD_REQUEST',
          'the delivery lacks X-GitHub-Event or a valid X-GitHub-Delivery',
        );
      }
      const payload = payloadOf(req, text);
      const routing = routeEvent(event, payload);
      if (routing.kind === 'ping') return reply.status(200).send({ status: 'pong', delivery });
      if (routing.kind === 'ignored')
        return reply.status(202).send({ status: 'ignored', delivery, reason: routing.reason });
      const outcome = await dispatcher.accept({ id: delivery, event, runnable: routing.event, payload });
      if (outcome === 'duplicate') return reply.status(200).send({ status: 'duplicate', delivery });
      return reply.status(202).send({ status: 'queued', delivery });
    },
  );
}
