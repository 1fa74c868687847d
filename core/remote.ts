import { z } from 'zod';

export const remoteNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const remoteTypes = ['local'] as const;
export type RemoteType = (typeof remoteTypes)[number];

export const localConfigSchema = z.strictObject({
  root: z.string().min(1).refine((p) => p.startsWith('/'), { message: 'root must be an absolute path, e.g. /srv/backup' }),
});
export type LocalConfig = z.infer<typeof localConfigSchema>;

/**
 * Settings per remote type as the user sends them. Secrets (tokens, passwords) are split off by
 * `splitSecrets` before anything is stored, and are stored only encrypted.
 */
export const remoteConfigSchemas: Record<RemoteType, z.ZodType<Record<string, unknown>>> = {
  local: localConfigSchema,
};

/** Config keys that hold secrets, per type: removed from `config` and stored encrypted. */
export const secretConfigKeys: Record<RemoteType, readonly string[]> = {
  local: [],
};

export const createRemoteSchema = z.strictObject({
  name: z.string().regex(remoteNamePattern, "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"),
  type: z.enum(remoteTypes, { error: `type must be one of: ${remoteTypes.join(', ')}` }),
  config: z.record(z.string(), z.unknown()).default({}),
});
export type CreateRemote = z.infer<typeof createRemoteSchema>;

export function splitSecrets(type: RemoteType, config: Record<string, unknown>): { config: Record<string, unknown>; secrets: Record<string, unknown> } {
  const pub: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) (secretConfigKeys[type].includes(k) ? secrets : pub)[k] = v;
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
