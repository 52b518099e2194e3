import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  ForkRequest,
  RestoreRequest,
  Session,
  Snapshot,
  SnapshotCreateRequest,
  SnapshotList,
} from '../../api/sessions.js';
import type { SessionsApi } from '../../api/sessions-api.js';
import { ErrorSchema } from '../schemas.js';

export interface SnapshotRoutesOptions {
  api: SessionsApi;
}

const Id = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const errors = {
  400: ErrorSchema,
  404: ErrorSchema,
  409: ErrorSchema,
  410: ErrorSchema,
  429: ErrorSchema,
  507: ErrorSchema,
};

/** Snapshots of sessions: create, list, restore in place, fork into a new session, delete. */
export const snapshotRoutes: FastifyPluginAsyncTypebox<SnapshotRoutesOptions> = async (app, { api }) => {
  app.post(
    '/v1/sessions/:id/snapshots',
    {
      schema: {
        summary:
          'Snapshot a session: `memory` (qemu, firecracker: processes and interpreter state too) or `filesystem`',
        params: Id,
        body: Type.Optional(SnapshotCreateRequest),
        response: { 201: Snapshot, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await api.createSnapshot(req.params.id, req.body ?? {})),
  );

  app.get(
    '/v1/sessions/:id/snapshots',
    { schema: { summary: "A session's snapshots", params: Id, response: { 200: SnapshotList, ...errors } } },
    async (req) => ({ snapshots: await api.listSnapshots(req.params.id) }),
  );

  app.post(
    '/v1/sessions/:id/restore',
    {
      schema: {
        summary: "Restore one of the session's snapshots into it (the session keeps its id)",
        params: Id,
        body: RestoreRequest,
        response: { 200: Session, ...errors },
      },
    },
    async (req) => api.restoreSnapshot(req.params.id, req.body.snapshotId),
  );

  app.get(
    '/v1/snapshots/:id',
    { schema: { summary: 'A snapshot', params: Id, response: { 200: Snapshot, ...errors } } },
    async (req) => api.getSnapshot(req.params.id),
  );

  app.delete(
    '/v1/snapshots/:id',
    {
      schema: {
        summary: 'Delete a snapshot and its files',
        params: Id,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await api.deleteSnapshot(req.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/snapshots/:id/fork',
    {
      schema: {
        summary: 'A new session started from the snapshot',
        params: Id,
        body: Type.Optional(ForkRequest),
        response: { 201: Session, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await api.forkSnapshot(req.params.id, req.body ?? {})),
  );
};
