import { isIP } from 'node:net';
import { z } from 'zod';
import { defineConnector, secret } from '../definition.js';
import { createFtpConnector, ftpCapabilities, type FtpConfig } from './index.js';

/** A command is one line: CR, LF and NUL in a user name or password would end it early. */
const oneLine = (what: string) =>
  z.string().refine((v) => !/[\r\n\0]/.test(v), { message: `${what} may not contain line breaks or NUL characters` });

/**
 * What a user sends to create an FTP remote: the server, the login, the folder on the server the
 * remote names, and TLS: `explicit` (AUTH TLS on the usual port, the common FTPS), `implicit`
 * (TLS from the first byte, usually port 990) or `none`. A server with a self-signed or private
 * CA certificate is trusted through `ca` (PEM); `insecureSkipVerify` turns the check off.
 */
export const ftpConfigSchema = z
  .strictObject({
    host: z
      .string({ error: 'host is required: the FTP server\'s name or address, e.g. ftp.example.com' })
      .trim()
      .min(1, { message: 'host is required: the FTP server\'s name or address, e.g. ftp.example.com' })
      .refine((v) => isIP(v) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(v), {
        message: 'host must be a host name or IP address without scheme or port, e.g. ftp.example.com (put the port in "port")',
      }),
    port: z.number({ error: 'port must be a number, e.g. 21' }).int().min(1).max(65535, { message: 'port must be between 1 and 65535' }).optional(),
    user: oneLine('user').pipe(z.string().min(1, { message: 'user is required: the FTP login name (use "anonymous" for anonymous FTP)' })),
    root: oneLine('root')
      .refine((v) => !v.split('/').includes('..'), { message: 'root may not contain ".." segments: give the folder on the server, e.g. /pub/backups' })
      .optional(),
    tls: z.enum(['none', 'explicit', 'implicit'], { error: 'tls must be "none", "explicit" (AUTH TLS, the usual FTPS) or "implicit" (TLS from the start, usually port 990)' }).default('none'),
    ca: z
      .string()
      .refine((v) => v.includes('-----BEGIN CERTIFICATE-----'), { message: 'ca must be PEM text of a certificate (-----BEGIN CERTIFICATE----- …)' })
      .optional(),
    insecureSkipVerify: z.boolean().optional(),
    connections: z.number().int().min(1).max(32, { message: 'connections must be between 1 and 32' }).optional(),
    password: oneLine('password').meta(secret),
  });

/** The fields that only make sense together (zod's omit, which the definition derives the settings with, refuses object refinements). */
export function vetFtpConfig(config: Record<string, unknown>): { field: string; message: string } | null {
  if (config.ca !== undefined && config.insecureSkipVerify === true) return { field: 'insecureSkipVerify', message: 'give either ca or insecureSkipVerify, not both' };
  const tls = config.tls ?? 'none';
  if (tls === 'none' && (config.ca !== undefined || config.insecureSkipVerify !== undefined)) {
    return { field: 'tls', message: 'ca and insecureSkipVerify apply only with tls "explicit" or "implicit"' };
  }
  return null;
}

export const ftpDefinition = defineConnector<FtpConfig>({
  type: 'ftp',
  configSchema: ftpConfigSchema,
  capabilities: ftpCapabilities,
  reconnectHint: 'give the FTP account\'s current password',
  create: (settings, ctx) => createFtpConnector(settings, ctx),
  crossCheck: (config) => vetFtpConfig(config),
});
