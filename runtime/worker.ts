import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { workflowBundle } from './workflowBundle.js';
import { activityMetrics } from '../metrics/activityInterceptor.js';
import { setQuotaProbeMs } from '../activities/failures.js';

export { workflowsPath } from './workflowBundle.js';

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  shutdownGraceMs: number;
  /** KNARR_QUOTA_PROBE_MS: how often a run stopped by a daily quota tries again (hourly by default). */
  quotaProbeMs?: number;
}

/** The worker that runs knarr's workflows and activities, on the cached workflow bundle. */
export async function createWorker(opts: WorkerOptions): Promise<Worker> {
  if (opts.quotaProbeMs !== undefined) setQuotaProbeMs(opts.quotaProbeMs);
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities(opts.deps),
    // After this, Core cancels running activities (WORKER_SHUTDOWN) through their cancellation
    // signal; the copy stops where it is, its last checkpoint already in the ledger, and the
    // cancelled attempt is reported failed so the run retries it at once on the next start.
    shutdownGraceTime: opts.shutdownGraceMs,
    maxConcurrentActivityTaskExecutions: 32,
    interceptors: { activity: [activityMetrics] },
  });
}
