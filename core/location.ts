import { normalizePath, PathError } from './paths.js';
import { remoteNamePattern } from './remote.js';

/** `remote:path`, as in rclone. */
export interface Location {
  remote: string;
  path: string;
}

export class LocationError extends Error {
  override name = 'LocationError';
}

export function parseLocation(text: string): Location {
  const colon = text.indexOf(':');
  if (colon <= 0) {
    throw new LocationError(`"${text}" is not a location: write it as remote:path, e.g. "jotta:Photos/2024" or "src:" for the remote's root`);
  }
  const remote = text.slice(0, colon);
  if (!remoteNamePattern.test(remote)) {
    throw new LocationError(`"${remote}" is not a valid remote name: use letters, digits, '-', '_' and '.', starting with a letter or digit`);
  }
  try {
    return { remote, path: normalizePath(text.slice(colon + 1)) };
  } catch (err) {
    if (err instanceof PathError) throw new LocationError(`bad path in "${text}": ${err.message}`);
    throw err;
  }
}
