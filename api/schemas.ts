import { z } from 'zod';

/**
 * The request bodies the routes parse that are the API's own (jobs, remotes, schedules and limits
 * have theirs in core/): one place, so /v1/openapi.json describes exactly what is validated.
 */
export const emptyBodySchema = z.strictObject({});

export const approveSchema = z.strictObject({ digest: z.string({ error: 'digest is required: the plan\'s digest from GET /v1/runs/{id}' }).min(1) });

export const scheduleNoteSchema = z.strictObject({ note: z.string().max(500).optional() });

export const createUserSchema = z.strictObject({
  name: z.string({ error: 'name is required' }).trim().min(1, { message: 'name must not be empty' }).max(100, { message: 'name must be at most 100 characters' })
    .regex(/^[\p{L}\p{N}._@-]+$/u, { message: 'name may hold letters, digits and . _ @ - only' }),
});
