import { z } from 'zod';
import { defineConnector, secret } from '../definition.js';
import { oauthConfigFields } from '../shared/oauth2.js';
import { createJottacloudConnector, jottacloudCapabilities, type JottacloudConfig } from './index.js';
import { whiteLabelKeys, whiteLabelOf, whiteLabelProvider } from './whiteLabels.js';

const httpUrl = (what: string) =>
  z.url({ protocol: /^https?$/, error: `${what} must be an http(s) URL, e.g. https://jfs.jottacloud.com/jfs/` });
const jottaContainer = (what: string, example: string) =>
  z
    .string()
    .min(1)
    .max(255)
    .refine((v) => !v.includes('/') && v !== '.' && v !== '..', { message: `${what} is one name without '/', e.g. ${example}` });

const LOGIN_TOKEN_HINT = 'generate a Personal Login Token in Jottacloud under Account → Security';
const WHITE_LABEL_ONLY = ['token', 'authUrl', 'tokenUrl', 'clientId', 'clientSecret'] as const;

/**
 * What a user sends to create a Jottacloud remote (shared/specs/jottacloud-api.md §3): the device
 * and mountpoint the remote is rooted at (`Jotta/Archive` by default; `Sync` or a backup device's
 * mountpoint can be chosen), the two service hosts, configurable for tests (the real ones when
 * absent, §1), and how the account is reached:
 *   - Jottacloud itself: the Personal Login Token (§2.1: unpadded base64url, about 250–300
 *     characters), a secret needed only at creation: exchanged for tokens on first use (auth.ts)
 *     and never kept after that;
 *   - a white-label service (§2.6, `whiteLabel`: Telia Cloud, Telia Sky, …): its login page,
 *     through the connect flow (no token: the API answers the page's link), or the rclone-style
 *     token object of a session of its realm (`token`); `authUrl`/`tokenUrl` replace the realm's
 *     endpoints and `clientId`/`clientSecret` its public client.
 */
export const jottacloudConfigSchema = z.strictObject({
  device: jottaContainer('device', 'Jotta').default('Jotta'),
  mountpoint: jottaContainer('mountpoint', 'Archive or Sync').default('Archive'),
  jfsUrl: httpUrl('jfsUrl').optional(),
  apiUrl: httpUrl('apiUrl').optional(),
  whiteLabel: z.enum(whiteLabelKeys, { error: `whiteLabel must be one of: ${whiteLabelKeys.join(', ')} (leave it out for Jottacloud itself)` }).optional(),
  loginToken: z
    .string({ error: `loginToken is required: ${LOGIN_TOKEN_HINT}` })
    .trim()
    .min(20, { message: 'loginToken is too short to be a Personal Login Token: copy the whole token from Account → Security' })
    .regex(/^[A-Za-z0-9_\-+/=]+$/, { message: 'loginToken must be the Personal Login Token exactly as Jottacloud shows it (base64url characters only)' })
    .optional()
    .meta(secret),
  ...oauthConfigFields,
});

/** Each kind of remote takes its own credentials, and a white-label's fields only with a white-label. */
function crossCheck(config: Record<string, unknown>, opts: { withSecrets: boolean }): { field: string; message: string } | null {
  const label = whiteLabelOf(config.whiteLabel);
  if (label) {
    if (config.loginToken !== undefined) {
      return { field: 'loginToken', message: `a ${label.name} remote is connected through the ${label.name} login page, not with a Personal Login Token: leave loginToken out (the API then answers the login page's link), or give the token object of a ${label.name} session as token` };
    }
    return null;
  }
  const stray = WHITE_LABEL_ONLY.find((k) => config[k] !== undefined);
  if (stray) return { field: stray, message: `${stray} is only for a white-label remote (whiteLabel: ${whiteLabelKeys.join(', ')}); a Jottacloud remote takes a Personal Login Token as loginToken` };
  if (opts.withSecrets && config.loginToken === undefined) return { field: 'loginToken', message: `loginToken is required: ${LOGIN_TOKEN_HINT}` };
  return null;
}

export const jottacloudDefinition = defineConnector<JottacloudConfig>({
  type: 'jottacloud',
  configSchema: jottacloudConfigSchema,
  capabilities: jottacloudCapabilities,
  // Jottacloud's own remotes; a white-label's auth error says to use its login page instead.
  reconnectHint: 'create a new Personal Login Token in Jottacloud under Account → Security',
  oauth: (settings) => {
    const label = whiteLabelOf(settings.whiteLabel);
    return label ? whiteLabelProvider(label) : undefined;
  },
  crossCheck,
  create: (settings, ctx) => createJottacloudConnector(settings, ctx),
});
