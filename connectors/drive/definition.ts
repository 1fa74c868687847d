import { z } from 'zod';
import { defineConnector } from '../definition.js';
import { oauthConfigFields } from '../shared/oauth2.js';
import { driveReconnectHint } from './errors.js';
import { createDriveConnector, driveCapabilities, driveOAuth, type DriveConfig } from './index.js';
import { exportable } from './names.js';

const kinds = Object.fromEntries(Object.values(exportable).map((k) => [k.key, k.formats])) as unknown as Record<'document' | 'spreadsheet' | 'presentation' | 'drawing', Record<string, string>>;
const formatOf = (key: keyof typeof kinds) => {
  const choices: [string, ...string[]] = ['skip', ...Object.keys(kinds[key])];
  return z.enum(choices, { error: `exportFormats.${key} must be one of ${choices.join(', ')}` }).optional();
};

/**
 * What a user sends to create a Google Drive remote: the token `rclone authorize drive` prints
 * (or nothing, to be sent through Google's consent page), the OAuth client it belongs to when it
 * is not the operator's, and where in the account the remote is rooted.
 */
export const driveConfigSchema = z.strictObject({
  ...oauthConfigFields,
  rootFolderId: z.string({ error: 'rootFolderId must be the id of a Drive folder (the last part of its URL)' }).trim().min(1).optional(),
  driveId: z.string({ error: 'driveId must be the id of a shared drive (the last part of its URL)' }).trim().min(1).optional(),
  exportFormats: z
    .union([z.literal('skip'), z.strictObject({ document: formatOf('document'), spreadsheet: formatOf('spreadsheet'), presentation: formatOf('presentation'), drawing: formatOf('drawing') })], {
      error: 'exportFormats is "skip" or an object like {"document":"docx","spreadsheet":"xlsx","presentation":"pptx","drawing":"svg"}',
    })
    .optional(),
  apiUrl: z.url({ protocol: /^https?$/, error: 'apiUrl must be an http(s) URL (Drive\'s is https://www.googleapis.com)' }).optional(),
});

export const driveDefinition = defineConnector<DriveConfig>({
  type: 'drive',
  configSchema: driveConfigSchema,
  capabilities: driveCapabilities,
  reconnectHint: driveReconnectHint,
  oauth: driveOAuth,
  create: (settings, ctx) => createDriveConnector(settings, ctx),
});
