import { isConnectorError } from '../connectors/errors.js';

/** A connector error that concerns this one file only: it is marked failed and the run goes on. */
export function isPerFileError(err: unknown): boolean {
  return isConnectorError(err) && ['not_found', 'forbidden', 'invalid_name', 'too_large', 'corrupt', 'conflict', 'unsupported'].includes(err.kind);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs a delete or move for which "already gone" is success (an earlier attempt did it, or there was nothing). */
export async function ignoringNotFound(op: () => Promise<unknown>): Promise<void> {
  try {
    await op();
  } catch (err) {
    if (!isConnectorError(err, 'not_found')) throw err;
  }
}
