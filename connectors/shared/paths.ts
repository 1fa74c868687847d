import { normalizePath, PathError } from '../../core/paths.js';
import { ConnectorError } from '../errors.js';

/** A caller's path in core/paths.ts form; anything that could leave the root is kind invalid_name. */
export function connectorPath(input: string, op: string): string {
  try {
    return normalizePath(input);
  } catch (err) {
    if (err instanceof PathError) throw new ConnectorError('invalid_name', `${op}: ${err.message}`);
    throw err;
  }
}
