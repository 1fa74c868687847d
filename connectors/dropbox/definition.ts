import { z } from 'zod';
import { defineConnector } from '../definition.js';
import { oauthConfigFields } from '../shared/oauth2.js';
import { createDropboxConnector, dropboxCapabilities, dropboxOAuth, type DropboxConfig } from './index.js';

const baseUrl = (what: string, example: string) =>
  z.url({ protocol: /^https?$/, error: `${what} must be an http(s) URL, e.g. ${example} (set only to reach an emulator)` }).optional();

/**
 * What a user sends to create a Dropbox remote: the token `rclone authorize dropbox` prints (or
 * none, to connect through Dropbox's consent page), an optional folder to root the remote at, and
 * for tests the two API hosts.
 */
export const dropboxConfigSchema = z.strictObject({
  ...oauthConfigFields,
  root: z
    .string({ error: 'root must be a folder path in the Dropbox, e.g. "Backups/2024"' })
    .refine((v) => !v.split('/').some((s) => s === '..' || s === '.'), { message: 'root must not contain "." or ".." segments' })
    .optional(),
  apiUrl: baseUrl('apiUrl', 'https://api.dropboxapi.com'),
  contentUrl: baseUrl('contentUrl', 'https://content.dropboxapi.com'),
});

export const dropboxDefinition = defineConnector<DropboxConfig>({
  type: 'dropbox',
  configSchema: dropboxConfigSchema,
  capabilities: dropboxCapabilities,
  oauth: dropboxOAuth,
  reconnectHint: 'authorize knarr for the Dropbox account again (or paste a new token from `rclone authorize dropbox`)',
  create: (settings, ctx) => createDropboxConnector(settings, ctx),
});
