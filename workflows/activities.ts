import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/** Kept in step with activities/failures.ts (workflows may not import activity code). */
export const failureTypes = { auth: 'AuthFailed', destinationFull: 'DestinationFull', invalidJob: 'InvalidJob', internal: 'InternalError' } as const;

/**
 * The copy, verify and plan activities: long, heartbeating, retried without limit (throttles wait
 * out the provider's Retry-After; internal errors give up by themselves after a few attempts).
 */
export function ioActivities(heartbeatTimeoutMs: number) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '7 days',
    heartbeatTimeout: heartbeatTimeoutMs,
    // A pause or cancel waits until the activity has stopped at its checkpoint and saved it, so
    // the run never reads `paused` while a worker is still writing.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '2 minutes', nonRetryableErrorTypes: [failureTypes.auth, failureTypes.destinationFull, failureTypes.invalidJob] },
  });
}

/** Short ledger bookkeeping. */
export const ledger = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
