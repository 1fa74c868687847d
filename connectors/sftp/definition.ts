import { z } from 'zod';
import { defineConnector, secret } from '../definition.js';
import { parseHostKey } from './hostKey.js';
import { createSftpConnector, sftpCapabilities, type SftpConfig } from './index.js';

const keyRe = /-----BEGIN (OPENSSH|RSA|EC|DSA|ENCRYPTED)? ?PRIVATE KEY-----/;

/**
 * What a user sends to create an SFTP remote. Exactly one of password and privateKey (checked by
 * the definition's crossCheck: a zod refinement on the object would stop the secret fields being
 * split off). The
 * host key is pinned: without hostKey the connection is refused with the server's fingerprint,
 * ready to paste.
 */
export const sftpConfigSchema = z.strictObject({
  host: z.string({ error: 'host is required: the SFTP server name or address, e.g. nas.example.com' }).trim().min(1, { message: 'host is required: the SFTP server name or address, e.g. nas.example.com' })
    .refine((h) => !/[\s/@]/.test(h), { message: 'host is a name or address only, without user@, port or path, e.g. nas.example.com' }),
  port: z.number({ error: 'port must be a number, e.g. 22' }).int().min(1).max(65535, { message: 'port must be between 1 and 65535' }).default(22),
  user: z.string({ error: 'user is required: the login name on the server' }).min(1, { message: 'user is required: the login name on the server' }),
  root: z.string({ error: 'root must be a folder path on the server, e.g. /srv/backup or backup (relative to the login folder)' }).default('')
    .refine((r) => !r.includes('\0'), { message: 'root may not contain a NUL character' }),
  hostKey: z.string().trim()
    .refine((v) => typeof parseHostKey(v) !== 'string', { error: (iss) => String(parseHostKey(String(iss.input))) })
    .optional(),
  password: z.string().min(1, { message: 'password may not be empty; leave it out when you use privateKey' }).optional().meta(secret),
  privateKey: z.string()
    .refine((k) => keyRe.test(k), { message: 'privateKey must be the whole private key file (PEM or OpenSSH format), from -----BEGIN … PRIVATE KEY----- to the END line' })
    .optional().meta(secret),
  passphrase: z.string().optional().meta(secret),
});

export const sftpDefinition = defineConnector<SftpConfig>({
  type: 'sftp',
  configSchema: sftpConfigSchema,
  capabilities: sftpCapabilities,
  reconnectHint: 'set a new password or private key for the SFTP user',
  create: (settings, ctx) => createSftpConnector(settings, ctx),
  // Which login a remote uses is known only where its secrets are (creation), not in the stored settings a PATCH changes.
  crossCheck: (config, { withSecrets }) => {
    if (!withSecrets) return null;
    const hasPassword = typeof config.password === 'string';
    const hasKey = typeof config.privateKey === 'string';
    if (hasPassword === hasKey) {
      return { field: hasKey ? 'password' : 'privateKey', message: hasKey ? 'give either password or privateKey, not both' : 'password or privateKey is required: the SFTP user\'s password, or a private key (PEM/OpenSSH) authorised on the server' };
    }
    if (config.passphrase !== undefined && !hasKey) return { field: 'passphrase', message: 'passphrase is only for an encrypted privateKey' };
    return null;
  },
});
