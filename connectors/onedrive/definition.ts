import { z } from 'zod';
import { defineConnector } from '../definition.js';
import { oauthConfigFields } from '../shared/oauth2.js';
import { onedriveReconnectHint } from './errors.js';
import { createOneDriveConnector, onedriveCapabilities, onedriveOAuth, type OneDriveConfig, type Region } from './index.js';

const httpUrl = (what: string, example: string) => z.url({ protocol: /^https?$/, error: `${what} must be an http(s) URL, e.g. ${example}` });

/**
 * What a user sends to create a OneDrive remote: the OAuth token (rclone's object, or none to be
 * sent through Microsoft's consent page), and which drive: `driveId` (as rclone's `drive_id`),
 * or a SharePoint site by URL (its default document library), or the user's own drive when both
 * are absent. `region` picks the national cloud as rclone's option does; `apiUrl` replaces the
 * Graph base (`…/v1.0`) for tests and proxies.
 */
export const onedriveConfigSchema = z.strictObject({
  driveId: z.string().trim().min(1).optional(),
  driveType: z.enum(['personal', 'business', 'documentLibrary'], { error: 'driveType is personal, business or documentLibrary (as rclone\'s drive_type)' }).optional(),
  siteUrl: httpUrl('siteUrl', 'https://contoso.sharepoint.com/sites/Team').optional(),
  region: z.enum(['global', 'us', 'de', 'cn'], { error: 'region is global, us, de or cn (as rclone\'s region)' }).optional(),
  apiUrl: httpUrl('apiUrl', 'https://graph.microsoft.com/v1.0').optional(),
  ...oauthConfigFields,
});

export const onedriveDefinition = defineConnector<OneDriveConfig>({
  type: 'onedrive',
  configSchema: onedriveConfigSchema,
  capabilities: onedriveCapabilities,
  reconnectHint: onedriveReconnectHint,
  oauth: (settings) => onedriveOAuth((settings.region as Region | undefined) ?? 'global'),
  create: (settings, ctx) => createOneDriveConnector(settings, ctx),
  crossCheck: (config) => (config.driveId !== undefined && config.siteUrl !== undefined ? { field: 'siteUrl', message: 'give driveId or siteUrl, not both' } : null),
});

export { onedriveOAuth };
