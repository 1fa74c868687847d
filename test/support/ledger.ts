import { api } from './knarr.js';

/**
 * Bytes of one file the ledger counts as safely written (its last checkpoint), through the API.
 * How a partial file looks on disk is the connector's business (parts may be written in place),
 * so "how far has it got" is asked of the ledger.
 */
export async function checkpointOf(base: string, runId: string, path: string): Promise<number> {
  // The page that starts just before `path`: one row, not the whole ledger.
  const after = encodeURIComponent(path.slice(0, -1));
  const { status, body } = await api(base, 'GET', `/v1/runs/${runId}/files?after=${after}&limit=1`);
  if (status !== 200) throw new Error(`GET files of run ${runId}: ${status} ${JSON.stringify(body)}`);
  const file = body.data.find((f: { path: string }) => f.path === path);
  return file ? Number(file.bytesDone) : 0;
}
