import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { AboutResult, FolderPage, ProbeResult } from '../core/remote.js';

const { probeRemote, listFolder, aboutRemote } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 2 },
});

/** Runs the remote check on a worker: credentials are only ever decrypted in activities. */
export async function probeRemoteWorkflow(remoteId: string, path: string | null): Promise<ProbeResult> {
  return probeRemote(remoteId, path);
}

/** One page of a remote's folder for a person browsing it (GET /v1/remotes/{name}/ls). */
export async function listFolderWorkflow(remoteId: string, path: string, after: string | null, limit: number): Promise<FolderPage> {
  return listFolder(remoteId, path, after, limit);
}

/** A remote's space (GET /v1/remotes/{name}/about). */
export async function remoteAboutWorkflow(remoteId: string): Promise<AboutResult> {
  return aboutRemote(remoteId);
}
