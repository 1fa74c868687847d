import { Context } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { ConnectorError } from '../connectors/errors.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { errorMessage } from '../engine/errors.js';
import { retries, throttleEvents } from '../metrics/registry.js';

export { errorMessage };

/** Failure types the workflow and retry policy know by name. */
export const failureTypes = {
  throttled: 'ProviderThrottled',
  transient: 'ProviderTransient',
  auth: 'AuthFailed',
  /** The destination is full: the run waits in needs_attention until resumed. */
  destinationFull: 'DestinationFull',
  /** The job cannot run as defined (source gone, destination is a file...): retrying cannot help. */
  invalidJob: 'InvalidJob',
  /** Not a provider's answer: a bug or an unexpected state, retried a few times, then given up. */
  internal: 'InternalError',
} as const;

/**
 * Attempts an error that is neither a provider's nor the database being away gets before the
 * batch gives up: retrying a bug forever would show the run `copying` for ever.
 */
export const maxInternalAttempts = 5;

/** What a throttle, a rejected credential or a full destination carries to the workflow (no secrets: a name and the provider's hint). */
export interface WaitDetails {
  /** The remote that answered, when known (connectors/naming.ts). */
  remote: string | null;
  retryAfterMs?: number | null;
  scope?: string;
}

/** How often a run stopped by a provider's daily quota tries again, at most: hourly (KNARR_QUOTA_PROBE_MS). */
export const defaultQuotaProbeMs = 3_600_000;
let quotaProbeMs = defaultQuotaProbeMs;

/**
 * Set once per worker process from its configuration: a quota's reset is the provider's guess
 * (Drive's is undocumented), so the run asks again this often until it goes through.
 */
export function setQuotaProbeMs(ms: number): void {
  if (!(ms > 0)) throw new RangeError(`the quota probe interval must be positive, not ${ms}`);
  quotaProbeMs = ms;
}

/**
 * How long a throttled attempt waits before the next: the provider's Retry-After, else the retry
 * policy's own backoff (workflows/activities.ts: 1 s doubling up to 2 minutes), always set
 * explicitly so the run can show when it expects to go on. A daily quota waits until its reset,
 * but never longer than the probe interval.
 */
export function throttleDelayMs(retryAfterMs: number | undefined, attempt: number, scope?: string): number {
  if (scope === 'daily_quota') return Math.min(retryAfterMs ?? quotaProbeMs, quotaProbeMs);
  return retryAfterMs ?? Math.min(120_000, 1_000 * 2 ** Math.min(Math.max(0, attempt - 1), 7));
}

/**
 * Turns an error into what Temporal should do about it. Throttles retry after the provider's
 * Retry-After (never counted as a failure of the run), transient errors and an unreachable
 * database retry with backoff, a rejected credential or a full destination stops the activity so
 * the workflow can wait for the user, and anything else is retried `maxInternalAttempts` times and then reported as knarr's own fault.
 */
export function toActivityFailure(err: unknown, context: string): Error {
  if (err instanceof ApplicationFailure) return err;
  if (!(err instanceof ConnectorError)) {
    const message = `${context}: ${errorMessage(err)}`;
    if (isDatabaseUnavailable(err)) return ApplicationFailure.create({ type: failureTypes.transient, message: `${message} (the database is unreachable; retrying)`, cause: asError(err) });
    const attempt = Context.current().info.attempt;
    if (attempt >= maxInternalAttempts) {
      return ApplicationFailure.create({
        type: failureTypes.internal, nonRetryable: true, cause: asError(err),
        message: `${message} — an internal error, not a provider's answer; gave up after ${attempt} attempts (the worker's log has the details)`,
      });
    }
    return ApplicationFailure.create({ type: failureTypes.internal, message, cause: asError(err) });
  }
  const message = `${context}: ${err.message}`;
  const remote = err.remote ?? null;
  const provider = err.provider ?? 'unknown';
  if (err.kind === 'throttled') throttleEvents.inc({ provider });
  if (err.retryable) retries.inc({ provider, kind: err.kind });
  switch (err.kind) {
    case 'throttled':
      return ApplicationFailure.create({
        type: failureTypes.throttled,
        message,
        nextRetryDelay: throttleDelayMs(err.retryAfterMs, Context.current().info.attempt, err.scope),
        details: [{ retryAfterMs: err.retryAfterMs ?? null, scope: err.scope ?? 'request', remote } satisfies WaitDetails],
        category: ApplicationFailureCategory.BENIGN,
      });
    case 'transient':
      return ApplicationFailure.create({ type: failureTypes.transient, message });
    // Not retried by Temporal: the workflow waits (needs_reconnect, needs_attention) for the user.
    case 'auth':
      return ApplicationFailure.create({ type: failureTypes.auth, message, nonRetryable: true, details: [{ remote } satisfies WaitDetails] });
    case 'quota_exceeded':
      return ApplicationFailure.create({ type: failureTypes.destinationFull, message, nonRetryable: true, details: [{ remote } satisfies WaitDetails] });
    default:
      return ApplicationFailure.create({ type: failureTypes.invalidJob, message, nonRetryable: true });
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
