import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { ConnectorError } from '../connectors/errors.js';

/** Failure types the workflow and retry policy know by name. */
export const failureTypes = {
  throttled: 'ProviderThrottled',
  transient: 'ProviderTransient',
  auth: 'AuthFailed',
  /** The job cannot run as defined (source gone, destination is a file...): retrying cannot help. */
  invalidJob: 'InvalidJob',
} as const;
export const nonRetryableFailureTypes = [failureTypes.auth, failureTypes.invalidJob];

/** Kinds that concern one file only: the file is marked failed and the run goes on. */
export function isPerFileError(err: unknown): err is ConnectorError {
  return err instanceof ConnectorError && ['not_found', 'invalid_name', 'too_large', 'corrupt', 'conflict', 'unsupported'].includes(err.kind);
}

/**
 * Turns a connector error into what Temporal should do about it. Throttles retry after the
 * provider's Retry-After (never counted as a failure of the run), transient errors retry with
 * backoff, a rejected credential stops with a message that says what to do.
 */
export function toActivityFailure(err: unknown, context: string): Error {
  if (err instanceof ApplicationFailure) return err;
  if (!(err instanceof ConnectorError)) return err instanceof Error ? err : new Error(String(err));
  const message = `${context}: ${err.message}`;
  switch (err.kind) {
    case 'throttled':
      return ApplicationFailure.create({
        type: failureTypes.throttled,
        message,
        nextRetryDelay: err.retryAfterMs ?? undefined,
        details: [{ retryAfterMs: err.retryAfterMs ?? null, scope: err.scope ?? 'request' }],
        category: ApplicationFailureCategory.BENIGN,
      });
    case 'transient':
      return ApplicationFailure.create({ type: failureTypes.transient, message });
    case 'auth':
      return ApplicationFailure.create({ type: failureTypes.auth, message, nonRetryable: true });
    default:
      return ApplicationFailure.create({ type: failureTypes.invalidJob, message, nonRetryable: true });
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
