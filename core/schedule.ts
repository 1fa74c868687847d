import { z } from 'zod';
import { createJobSchema } from './job.js';
import { parseDuration, UnitError } from './units.js';

export const overlapPolicies = ['skip', 'buffer_one', 'allow_all'] as const;
export type OverlapPolicy = (typeof overlapPolicies)[number];

/** The shortest interval a schedule may have: Temporal's own floor for catching up. */
export const minEveryMs = 1_000;

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Five fields (minute hour day month weekday) or one of the @-names Temporal knows. */
const cronPattern = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$/;

/** `POST /v1/schedules`: a job, and when to run it. */
export const createScheduleSchema = createJobSchema.extend({
  name: z.string({ error: 'name is required: a name for the schedule, such as "nightly-photos"' }).trim().min(1).max(100)
    .regex(/^[\p{L}\p{N}._-]+$/u, { message: 'name may hold letters, digits and . _ - only' }),
  cron: z.string().trim().regex(cronPattern, { message: 'cron must have five fields (minute hour day month weekday), such as "0 2 * * *", or be @daily, @hourly …' }).optional(),
  every: z.string().trim().optional().superRefine((v, ctx) => {
    if (v === undefined) return;
    try {
      if (parseDuration(v) < minEveryMs) ctx.addIssue({ code: 'custom', message: 'every must be at least 1s' });
    } catch (err) {
      if (!(err instanceof UnitError)) throw err;
      ctx.addIssue({ code: 'custom', message: `every: ${err.message}` });
    }
  }),
  timezone: z.string().default('UTC').refine(validTimezone, { message: 'timezone must be an IANA time zone, such as "Europe/Oslo" or "UTC"' }),
  overlap: z.enum(overlapPolicies, { error: `overlap must be one of: ${overlapPolicies.join(', ')}` }).default('skip'),
}).superRefine((s, ctx) => {
  if ((s.cron === undefined) === (s.every === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['cron'], message: 'give either cron (such as "0 2 * * *") or every (such as "6h"), not both and not neither' });
  }
});
export type CreateSchedule = z.infer<typeof createScheduleSchema>;
