import type { ErrorRequestHandler } from 'express';
import { z } from 'zod';

/** A client mistake (4xx) or an outside failure the client should know about (503), with a JSON body. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

export function fromZodError(err: z.ZodError, prefix = ''): ApiError {
  const issue = err.issues[0];
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  const message = issue.code === 'unrecognized_keys'
    ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${field ? field + '.' : ''}${k}"`).join(', ')}`
    : `${field || 'body'}: ${issue.message}`;
  return new ApiError(400, 'invalid_request', message, field || undefined);
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown, prefix = ''): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw fromZodError(r.error, prefix);
  return r.data;
}

/**
 * The one error model of the API: `{"error":{"code","message","field"}}`. Unknown errors are
 * logged and answered with a 500 that says nothing of the internals.
 */
export function errorHandler(log: (msg: string, err: unknown) => void): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    if (err instanceof ApiError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message, field: err.field ?? null } });
      return;
    }
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'invalid_json', message: 'the request body is not valid JSON', field: null } });
      return;
    }
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'too_large', message: 'the request body is too large', field: null } });
      return;
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      res.status(e.status).json({ error: { code: 'bad_request', message: 'the request could not be read', field: null } });
      return;
    }
    log('unhandled API error', err);
    res.status(500).json({ error: { code: 'internal', message: 'internal error; see the knarr server log', field: null } });
  };
}
