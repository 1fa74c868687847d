/** See sourceHash.mjs. */
export function hashSources(repo: string, folders: readonly string[], files: readonly string[]): string;
