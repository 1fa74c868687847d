import { z } from 'zod';

export const remoteNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const remoteTypes = ['local', 'jottacloud'] as const;
export type RemoteType = (typeof remoteTypes)[number];

export const localConfigSchema = z.strictObject({
  root: z.string().min(1).refine((p) => p.startsWith('/'), { message: 'root must be an absolute path, e.g. /srv/backup' }),
});
export type LocalConfig = z.infer<typeof localConfigSchema>;

const httpUrl = (what: string) =>
  z.url({ protocol: /^https?$/, error: `${what} must be an http(s) URL, e.g. https://jfs.jottacloud.com/jfs/` });
const jottaContainer = (what: string, example: string) =>
  z
    .string()
    .min(1)
    .max(255)
    .refine((v) => !v.includes('/') && v !== '.' && v !== '..', { message: `${what} is one name without '/', e.g. ${example}` });

/**
 * Jottacloud settings as stored (shared/specs/jottacloud-api.md §3): the device and mountpoint the
 * remote is rooted at (`Jotta/Archive` by default; `Sync` or a backup device's mountpoint can be
 * chosen), and the two service hosts, configurable for tests (the real ones when absent, §1).
 */
export const jottacloudSettingsSchema = z.strictObject({
  device: jottaContainer('device', 'Jotta').default('Jotta'),
  mountpoint: jottaContainer('mountpoint', 'Archive or Sync').default('Archive'),
  jfsUrl: httpUrl('jfsUrl').optional(),
  apiUrl: httpUrl('apiUrl').optional(),
});

/**
 * What a user sends to create a Jottacloud remote: the settings plus the Personal Login Token
 * (§2.1: unpadded base64url, about 250–300 characters), needed only at creation. It is a secret
 * (see secretConfigKeys), exchanged for tokens on first use and never kept after that.
 */
export const jottacloudConfigSchema = z.strictObject({
  ...jottacloudSettingsSchema.shape,
  loginToken: z
    .string({ error: 'loginToken is required: generate a Personal Login Token in Jottacloud under Account → Security' })
    .trim()
    .min(20, { message: 'loginToken is too short to be a Personal Login Token: copy the whole token from Account → Security' })
    .regex(/^[A-Za-z0-9_\-+/=]+$/, { message: 'loginToken must be the Personal Login Token exactly as Jottacloud shows it (base64url characters only)' }),
});
export type JottacloudConfig = z.infer<typeof jottacloudConfigSchema>;

/**
 * Settings per remote type as the user sends them. Secrets (tokens, passwords) are split off by
 * `splitSecrets` before anything is stored, and are stored only encrypted.
 */
export const remoteConfigSchemas: Record<RemoteType, z.ZodType<Record<string, unknown>>> = {
  local: localConfigSchema,
  jottacloud: jottacloudConfigSchema,
};

/** Config keys that hold secrets, per type: removed from `config` and stored encrypted. */
export const secretConfigKeys: Record<RemoteType, readonly string[]> = {
  local: [],
  jottacloud: ['loginToken'],
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

/**
 * The answer of a remote check (list the root, stat a path), made on a worker. `kind` is a
 * connector error kind (auth, throttled, not_found...) or 'error'. No secrets, only what the
 * API may tell the user.
 */
export type ProbeResult =
  | { ok: true; entry: { isDir: boolean; size: number } | null }
  | { ok: false; kind: string; message: string };
