import { z } from 'zod';
import { defineConnector, secret } from '../definition.js';
import { createJottacloudConnector, jottacloudCapabilities, type JottacloudConfig } from './index.js';

const httpUrl = (what: string) =>
  z.url({ protocol: /^https?$/, error: `${what} must be an http(s) URL, e.g. https://jfs.jottacloud.com/jfs/` });
const jottaContainer = (what: string, example: string) =>
  z
    .string()
    .min(1)
    .max(255)
    .refine((v) => !v.includes('/') && v !== '.' && v !== '..', { message: `${what} is one name without '/', e.g. ${example}` });

/**
 * What a user sends to create a Jottacloud remote (shared/specs/jottacloud-api.md §3): the device
 * and mountpoint the remote is rooted at (`Jotta/Archive` by default; `Sync` or a backup device's
 * mountpoint can be chosen), the two service hosts, configurable for tests (the real ones when
 * absent, §1), and the Personal Login Token (§2.1: unpadded base64url, about 250–300 characters).
 * The token is a secret needed only at creation: exchanged for tokens on first use (auth.ts) and
 * never kept after that.
 */
export const jottacloudConfigSchema = z.strictObject({
  device: jottaContainer('device', 'Jotta').default('Jotta'),
  mountpoint: jottaContainer('mountpoint', 'Archive or Sync').default('Archive'),
  jfsUrl: httpUrl('jfsUrl').optional(),
  apiUrl: httpUrl('apiUrl').optional(),
  loginToken: z
    .string({ error: 'loginToken is required: generate a Personal Login Token in Jottacloud under Account → Security' })
    .trim()
    .min(20, { message: 'loginToken is too short to be a Personal Login Token: copy the whole token from Account → Security' })
    .regex(/^[A-Za-z0-9_\-+/=]+$/, { message: 'loginToken must be the Personal Login Token exactly as Jottacloud shows it (base64url characters only)' })
    .meta(secret),
});

export const jottacloudDefinition = defineConnector<JottacloudConfig>({
  type: 'jottacloud',
  configSchema: jottacloudConfigSchema,
  capabilities: jottacloudCapabilities,
  reconnectHint: 'create a new Personal Login Token in Jottacloud under Account → Security',
  create: (settings, ctx) => createJottacloudConnector(settings, ctx),
});
