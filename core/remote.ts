import { z } from 'zod';

export const remoteNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A connector type name (`local`, `jottacloud`...). Which ones exist is the connector registry's
 * business (connectors/registry.ts); the API checks a new remote's type against it.
 */
export type RemoteType = string;

/** The envelope of `POST /v1/remotes`; `config` is checked against the type's own schema by the API. */
export const createRemoteSchema = z.strictObject({
  name: z.string().regex(remoteNamePattern, "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"),
  type: z.string(),
  config: z.record(z.string(), z.unknown()).default({}),
});
export type CreateRemote = z.infer<typeof createRemoteSchema>;

/** `PATCH /v1/remotes/{name}`: settings to change (never secrets: those go through PUT …/credentials). */
export const updateRemoteSchema = z.strictObject({
  config: z.record(z.string(), z.unknown()),
});

/** Splits a remote's config into what is stored in plain sight and the secrets, which are stored only encrypted. */
export function splitSecrets(secretKeys: readonly string[], config: Record<string, unknown>): { config: Record<string, unknown>; secrets: Record<string, unknown> } {
  const pub: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) (secretKeys.includes(k) ? secrets : pub)[k] = v;
  return { config: pub, secrets };
}

/** A remote as the API shows it: never its credentials. */
export interface RemoteView {
  id: string;
  name: string;
  type: RemoteType;
  config: Record<string, unknown>;
  createdAt: string;
}

/**
 * The answer of a remote check (list the root, stat a path), made on a worker. `kind` is a
 * connector error kind (auth, throttled, not_found...) or 'error'. No secrets, only what the
 * API may tell the user.
 */
export type ProbeResult =
  | { ok: true; entry: { isDir: boolean; size: number } | null }
  | { ok: false; kind: string; message: string };

/** One entry of a folder as `GET /v1/remotes/{name}/ls` shows it. */
export interface FolderEntry {
  name: string;
  path: string;
  isDir: boolean;
  size: number;
  /** ISO 8601. */
  mtime: string;
}

export type FolderPage =
  | { ok: true; found: true; data: FolderEntry[]; next: string | null }
  | { ok: true; found: false }
  | { ok: false; kind: string; message: string };

/** A remote's space as `GET /v1/remotes/{name}/about` shows it (null where the provider does not say). */
export type AboutResult =
  | { ok: true; usedBytes: number | null; totalBytes: number | null; freeBytes: number | null; unlimited: boolean }
  | { ok: false; kind: string; message: string };
