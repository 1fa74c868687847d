import { z } from 'zod';
import { connectorTypes, findConnector } from '../connectors/registry.js';
import { filtersSchema } from '../core/filters.js';
import { createJobSchema, jobOptionsSchema, runLimitsSchema, updateJobSchema } from '../core/job.js';
import { createRemoteSchema, updateRemoteSchema } from '../core/remote.js';
import { itemStates, runStates } from '../core/run.js';
import { createScheduleSchema } from '../core/schedule.js';
import { approveSchema, createUserSchema, emptyBodySchema, scheduleNoteSchema } from './schemas.js';

interface RouteDoc {
  summary: string;
  /** What the route answers on success. */
  status: number;
  body?: z.ZodType | Record<string, unknown>;
  query?: Record<string, { description: string; schema: Record<string, unknown> }>;
  /** Starts work: an Idempotency-Key makes a repeat answer the first answer. */
  idempotent?: boolean;
}

const page = {
  limit: { description: 'page size, 1 to 1000 (default 100)', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
  after: { description: 'the "next" cursor of the page before', schema: { type: 'string' } },
};

/** A request body's JSON Schema, as the client sends it (before defaults and unit parsing). */
function inputSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    // A secret field (connectors/definition.ts) is one the API takes and never shows again.
    override: (ctx) => {
      const js = ctx.jsonSchema as Record<string, unknown>;
      if (js.secret === true) {
        delete js.secret;
        js.writeOnly = true;
      }
    },
  }) as Record<string, unknown>;
  return rest;
}

/** `config` of a new remote: one schema per connector type, from the connectors' own. */
function remoteBody(): Record<string, unknown> {
  const envelope = inputSchema(createRemoteSchema);
  return {
    ...envelope,
    properties: {
      ...(envelope.properties as Record<string, unknown>),
      type: { type: 'string', enum: connectorTypes() },
      config: { oneOf: connectorTypes().map((t) => ({ title: t, ...inputSchema(findConnector(t)!.configSchema) })) },
    },
  };
}

function credentialsBody(): Record<string, unknown> {
  const withSecrets = connectorTypes().filter((t) => findConnector(t)!.secretKeys.length > 0);
  return { oneOf: withSecrets.map((t) => ({ title: t, ...inputSchema(findConnector(t)!.secretsSchema) })) };
}

/**
 * Every route of the API, as `METHOD /path` exactly as the app lists them (api/app.ts
 * apiRoutes): a test holds the two equal, so a new route cannot go undocumented.
 */
export function routeDocs(): Record<string, RouteDoc> {
  return {
    'GET /v1/me': { summary: 'The user the key belongs to', status: 200 },
    'DELETE /v1/session': { summary: 'Sign out of the dashboard: the session ends and its cookie is cleared (POST /v1/session {key} signs in: an HttpOnly cookie and the CSRF token changing requests echo in x-csrf-token; GET /v1/session says who is signed in)', status: 204 },
    'POST /v1/users': { summary: 'Create a user (admin)', status: 201, body: createUserSchema },
    'GET /v1/users': { summary: 'List users (admin)', status: 200, query: page },
    'GET /v1/users/:id': { summary: 'A user (admin, or the user)', status: 200 },
    'POST /v1/users/:id/keys': { summary: 'Create an API key for a user; the key is shown this once', status: 201, body: emptyBodySchema },
    'GET /v1/users/:id/keys': { summary: "A user's keys (never the keys themselves)", status: 200 },
    'DELETE /v1/users/:id/keys/:keyId': { summary: 'Revoke a key', status: 204 },
    'POST /v1/remotes': { summary: 'Create a remote; it is checked by listing its root before it is saved. For Drive, OneDrive, Dropbox and Telia without a token: 202 with the authorizationUrl to approve in a browser, and the remote is made by the callback', status: 201, body: remoteBody() },
    'GET /v1/remotes': { summary: "The caller's remotes", status: 200, query: page },
    'GET /v1/remotes/:name': { summary: 'A remote (never its secrets)', status: 200 },
    'PATCH /v1/remotes/:name': { summary: 'Change settings (not secrets), checked as a new remote is', status: 200, body: updateRemoteSchema },
    'DELETE /v1/remotes/:name': { summary: 'Delete a remote, with the finished runs that used it; refused while a run or schedule uses it', status: 204 },
    'GET /v1/remotes/:name/about': { summary: 'The connection state (ok, needs_reconnect, unreachable, with the provider\'s words) and used, total and free space as the provider reports them (null where it does not)', status: 200 },
    'GET /v1/remotes/:name/ls': { summary: 'A folder of the remote, page by page', status: 200, query: { path: { description: 'the folder, relative to the remote root', schema: { type: 'string' } }, ...page } },
    'POST /v1/remotes/:name/reconnect': { summary: 'A new authorization link for a remote connected through its provider\'s login page (Drive, OneDrive, Dropbox, Telia); waiting runs go on once it is approved', status: 202, body: z.strictObject({ clientSecret: z.string().optional() }) },
    'PUT /v1/remotes/:name/credentials': { summary: 'Replace the secrets (reconnect); waiting runs go on', status: 200, body: credentialsBody() },
    'POST /v1/jobs': { summary: 'Create a job and start its first run', status: 202, body: createJobSchema, idempotent: true },
    'GET /v1/jobs': { summary: "The caller's jobs", status: 200, query: page },
    'GET /v1/jobs/:id': { summary: 'A job', status: 200 },
    'POST /v1/jobs/:id/runs': { summary: 'Run a job again', status: 202, body: emptyBodySchema, idempotent: true },
    'PATCH /v1/jobs/:id': { summary: "Change a job's definition for its next runs; refused while one runs", status: 200, body: updateJobSchema },
    'DELETE /v1/jobs/:id': { summary: 'Delete a job and its runs; refused while one runs or a schedule runs it', status: 204 },
    'POST /v1/schedules': { summary: 'Schedule a job: a cron or an interval in a time zone, on Temporal Schedules', status: 201, body: createScheduleSchema, idempotent: true },
    'GET /v1/schedules': { summary: "The caller's schedules, with next and recent runs", status: 200, query: page },
    'GET /v1/schedules/:id': { summary: 'A schedule, with its next and recent runs', status: 200 },
    'POST /v1/schedules/:id/pause': { summary: 'Pause a schedule', status: 200, body: scheduleNoteSchema },
    'POST /v1/schedules/:id/unpause': { summary: 'Unpause a schedule', status: 200, body: scheduleNoteSchema },
    'POST /v1/schedules/:id/trigger': { summary: 'Run a schedule now', status: 202, idempotent: true },
    'DELETE /v1/schedules/:id': { summary: 'Delete a schedule (its job and runs stay)', status: 204 },
    'GET /v1/runs': {
      summary: "The caller's runs, newest first", status: 200,
      query: {
        job: { description: 'only the runs of this job', schema: { type: 'string', format: 'uuid' } },
        state: { description: 'only runs in this state', schema: { type: 'string', enum: [...runStates] } },
        since: { description: 'started at or after', schema: { type: 'string', format: 'date-time' } },
        until: { description: 'started before', schema: { type: 'string', format: 'date-time' } },
        ...page,
      },
    },
    'GET /v1/runs/:id': { summary: 'A run: state, progress per phase, speed, ETA, files in flight, why it waits', status: 200 },
    'GET /v1/runs/:id/events': { summary: "The run's events, newest first", status: 200, query: { kind: { description: 'only events of this kind', schema: { type: 'string' } }, ...page } },
    'GET /v1/runs/:id/files': { summary: "The run's ledger, page by page", status: 200, query: { state: { description: 'only files in this state', schema: { type: 'string', enum: [...itemStates] } }, ...page } },
    'GET /v1/runs/:id/report': { summary: 'Every file of the run, as application/json or text/csv (Accept), streamed', status: 200 },
    'POST /v1/runs/:id/pause': { summary: 'Pause a run', status: 202 },
    'POST /v1/runs/:id/resume': { summary: 'Resume a run', status: 202 },
    'POST /v1/runs/:id/limits': { summary: "Change a running run's transfers and bandwidth limit", status: 202, body: runLimitsSchema },
    'POST /v1/runs/:id/approve': { summary: 'Execute exactly the stored plan with this digest', status: 202, body: approveSchema },
    'POST /v1/runs/:id/retry': { summary: 'A new run over only the files this one failed', status: 202, idempotent: true },
    'POST /v1/runs/:id/cancel': { summary: 'Cancel a run', status: 202 },
  };
}

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'field'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: ['string', 'null'] } },
    },
  },
};

/** `/v1/openapi.json`: OpenAPI 3.1, built from the zod schemas the routes validate with. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [route, doc] of Object.entries(routeDocs())) {
    const [method, path] = route.split(' ') as [string, string];
    const params = [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const openPath = path.replace(/:(\w+)/g, '{$1}');
    const body = doc.body === undefined ? undefined : doc.body instanceof z.ZodType ? inputSchema(doc.body) : doc.body;
    const operationId = `${method.toLowerCase()}${openPath.replace(/\/v1/, '').replace(/\{(\w+)\}/g, 'By_$1').split(/[/_-]/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}`;
    paths[openPath] ??= {};
    paths[openPath]![method.toLowerCase()] = {
      operationId,
      summary: doc.summary,
      parameters: [
        ...params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
        ...Object.entries(doc.query ?? {}).map(([name, q]) => ({ name, in: 'query', required: false, description: q.description, schema: q.schema })),
        ...(doc.idempotent ? [{ name: 'Idempotency-Key', in: 'header', required: false, description: 'the same key within 24 h answers the first answer and starts nothing new', schema: { type: 'string', maxLength: 255 } }] : []),
      ],
      ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: body } } } } : {}),
      responses: {
        [String(doc.status)]: doc.status === 204 ? { description: 'done' } : { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
        '400': { $ref: '#/components/responses/Error' },
        '401': { $ref: '#/components/responses/Error' },
        '404': { $ref: '#/components/responses/Error' },
        '409': { $ref: '#/components/responses/Error' },
        '422': { $ref: '#/components/responses/Error' },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'knarr',
      version,
      description: 'Durable cloud-to-cloud transfers. Every /v1 call needs "Authorization: Bearer <key>". Another user\'s remote, job, run or schedule answers 404.',
      license: { name: 'UNLICENSED', identifier: 'UNLICENSED' },
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    tags: [],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { JobOptions: inputSchema(jobOptionsSchema), Filters: inputSchema(filtersSchema), Error: errorSchema },
      responses: { Error: { description: 'a client mistake, or the server unable to answer', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } },
    },
  };
}
