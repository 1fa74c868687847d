import { z } from 'zod';
import { defineConnector, secret } from '../definition.js';
import { davReconnectHint } from './errors.js';
import { createWebdavConnector, webdavTypeCapabilities, type WebdavConfig } from './index.js';
import { vendorNames, vendorPresets } from './vendors.js';

/**
 * What a user sends to create a WebDAV remote. The URL's path is the folder the remote is rooted
 * at; for Nextcloud and ownCloud it is the user's files URL, as rclone takes it:
 * `https://host/remote.php/dav/files/<user>/<optional folder>` (chunked uploads go to the
 * `…/dav/uploads/<user>/` beside it). The password (or an app password) and the bearer token
 * are secrets.
 */
export const webdavConfigSchema = z.strictObject({
  url: z.url({
    protocol: /^https?$/,
    error: 'url must be the http(s) URL of the WebDAV folder, e.g. https://cloud.example.com/remote.php/dav/files/alice/ for Nextcloud',
  }),
  vendor: z
    .enum(vendorNames, { error: `vendor must be one of ${vendorNames.join(', ')} ("other" for any standard WebDAV server)` })
    // A field-level refinement: defineConnector derives the settings and secrets schemas with
    // omit/pick, which zod refuses on an object with refinements.
    .refine((v) => !vendorPresets[v].refused, { error: (issue) => `vendor ${String(issue.input)}: ${vendorPresets[issue.input as 'sharepoint-ntlm'].refused}` }),
  user: z.string({ error: 'user is required: the WebDAV user name (for Nextcloud, the login name in the files URL)' }).min(1, { message: 'user must not be empty' }),
  partialPut: z
    .boolean({ error: 'partialPut (vendor other only) is true (the server applies Content-Range on PUT), false (never use it) or absent (probe it once)' })
    .optional(),
  password: z.string({ error: 'password must be a string: the WebDAV password or an app password' }).optional().meta(secret),
  bearerToken: z.string({ error: 'bearerToken must be a string: an OAuth bearer token the server accepts' }).min(1).optional().meta(secret),
});

export const webdavDefinition = defineConnector<WebdavConfig>({
  type: 'webdav',
  configSchema: webdavConfigSchema,
  capabilities: webdavTypeCapabilities,
  reconnectHint: davReconnectHint,
  create: (settings, ctx) => createWebdavConnector(settings, ctx),
});
