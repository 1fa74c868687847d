import { z } from 'zod';
import { defineConnector, secret } from '../definition.js';
import { createS3Connector, s3Capabilities, type S3Config } from './index.js';
import { providerIds, providers, resolveTarget } from './providers.js';

/** S3's bucket naming rules (the common subset every provider accepts). */
const bucketName = z
  .string({ error: 'bucket is required: the name of the bucket the remote uses' })
  .min(3, { message: 'bucket must be 3 to 63 characters' })
  .max(63, { message: 'bucket must be 3 to 63 characters' })
  .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, { message: 'bucket may hold lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit, e.g. my-backups' });

/**
 * What a user sends to create an S3 remote. The provider preset builds the endpoint from the
 * region where it can (providers.ts); the secret access key is the only secret (the access key id
 * is shown, as rclone shows it). `root` is a key prefix inside the bucket.
 */
export const s3ConfigSchema = z
  .strictObject({
    provider: z.enum(providerIds, { error: `provider must be one of: ${providerIds.join(', ')} (other: any S3-compatible server, with endpoint)` }),
    endpoint: z.url({ protocol: /^https?$/, error: 'endpoint must be an http(s) URL, e.g. https://s3.eu-central-1.amazonaws.com' }).optional(),
    region: z.string().trim().min(1).max(64).regex(/^[a-z0-9-]+$/i, { message: 'region is a name like eu-central-1 or fsn1' }).optional(),
    bucket: bucketName,
    pathStyle: z.boolean({ error: 'pathStyle must be true (endpoint/bucket/key) or false (bucket.endpoint/key)' }).optional(),
    root: z.string().max(512).refine((r) => !r.split('/').some((s) => s === '..'), { message: "root is a key prefix inside the bucket without '..', e.g. backups/laptop" }).optional(),
    objectLock: z
      .strictObject({
        mode: z.enum(['GOVERNANCE', 'COMPLIANCE'], { error: 'objectLock.mode must be GOVERNANCE or COMPLIANCE (COMPLIANCE cannot be undone, not even by the account root)' }),
        days: z.number().int().min(1, { message: 'objectLock.days must be at least 1' }).max(36_500, { message: 'objectLock.days must be at most 36500' }),
      })
      .optional(),
    storageClass: z.string().regex(/^[A-Z_]+$/, { message: 'storageClass is the provider\'s name for it, e.g. STANDARD_IA or GLACIER_IR' }).optional(),
    partSize: z.number().int().min(5 * 1024 * 1024, { message: 'partSize must be at least 5 MiB (5242880)' }).max(5 * 1024 ** 3, { message: 'partSize must be at most 5 GiB' }).optional(),
    useServerModtime: z.boolean().optional(),
    accessKeyId: z.string({ error: 'accessKeyId is required: the access key id the provider shows for your key' }).trim().min(3, { message: 'accessKeyId is too short' }).max(256),
    secretAccessKey: z.string({ error: 'secretAccessKey is required: the secret shown once when the access key was created' }).min(8, { message: 'secretAccessKey is too short' }).max(512).meta(secret),
  });

/** The preset's rules across fields: an endpoint it cannot build, a part size below its minimum. */
export function s3CrossCheck(config: Record<string, unknown>): { field: string; message: string } | null {
  const cfg = config as unknown as S3Config;
  const r = resolveTarget(cfg);
  if ('problem' in r) return { field: r.field, message: r.problem };
  const min = providers[cfg.provider].minPartSize;
  if (cfg.partSize && cfg.partSize < min) return { field: 'partSize', message: `partSize must be at least ${min} bytes for ${cfg.provider}` };
  return null;
}

export const s3Definition = defineConnector<S3Config>({
  type: 's3',
  configSchema: s3ConfigSchema,
  capabilities: s3Capabilities,
  reconnectHint: 'create a new access key at the provider and update the remote with its access key id and secret access key',
  crossCheck: s3CrossCheck,
  create: (settings, ctx) => createS3Connector(settings, ctx),
});
