import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { ProbeResult } from '../core/remote.js';

const { probeRemote } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 2 },
});

/** Runs the remote check on a worker: credentials are only ever decrypted in activities. */
export async function probeRemoteWorkflow(remoteId: string, path: string | null): Promise<ProbeResult> {
  return probeRemote(remoteId, path);
}
