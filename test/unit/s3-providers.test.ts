import { describe, expect, it } from 'vitest';
import { s3Definition } from '../../connectors/s3/definition.js';
import { classifyS3Failure, mapS3Error } from '../../connectors/s3/errors.js';
import { S3Client } from '../../connectors/s3/client.js';
import { partSizeFor, providerIds, providers, resolveTarget } from '../../connectors/s3/providers.js';
import { formatMtime, md5Base64ToHex, md5OfEtag, parseMtime } from '../../connectors/s3/wire.js';
import { HttpClient } from '../../connectors/shared/http.js';
import { memoryCredentials } from '../support/memoryCredentials.js';

const MiB = 1024 * 1024;
const base = { bucket: 'my-backups', accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secretsecret' };

describe('s3 provider presets', () => {
  it('builds endpoints from the region where the preset can', () => {
    expect(resolveTarget({ provider: 'aws', region: 'eu-north-1' })).toEqual({ endpoint: 'https://s3.eu-north-1.amazonaws.com', region: 'eu-north-1', pathStyle: false });
    expect(resolveTarget({ provider: 'wasabi', region: 'eu-central-2' })).toMatchObject({ endpoint: 'https://s3.eu-central-2.wasabisys.com' });
    expect(resolveTarget({ provider: 'b2', region: 'us-west-004' })).toMatchObject({ endpoint: 'https://s3.us-west-004.backblazeb2.com' });
    expect(resolveTarget({ provider: 'scaleway', region: 'nl-ams' })).toMatchObject({ endpoint: 'https://s3.nl-ams.scw.cloud' });
    expect(resolveTarget({ provider: 'hetzner', region: 'hel1' })).toMatchObject({ endpoint: 'https://hel1.your-objectstorage.com' });
    expect(resolveTarget({ provider: 'digitalocean', region: 'ams3' })).toMatchObject({ endpoint: 'https://ams3.digitaloceanspaces.com' });
    expect(resolveTarget({ provider: 'storj' })).toMatchObject({ endpoint: 'https://gateway.storjshare.io' });
    expect(resolveTarget({ provider: 'gcs' })).toMatchObject({ endpoint: 'https://storage.googleapis.com', region: 'auto' });
    // R2 signs with region auto whatever the user says.
    expect(resolveTarget({ provider: 'r2', endpoint: 'https://abc.r2.cloudflarestorage.com/', region: 'eu' })).toEqual({ endpoint: 'https://abc.r2.cloudflarestorage.com', region: 'auto', pathStyle: true });
  });

  it('refuses a config the preset cannot complete, with a zod error saying how to fix it', () => {
    for (const provider of ['r2', 'idrive', 'other'] as const) {
      const r = s3Definition.configSchema.safeParse({ ...base, provider });
      expect(r.success).toBe(false);
      expect(r.error!.issues[0]).toMatchObject({ path: ['endpoint'], message: expect.stringMatching(/endpoint is required for provider/) });
    }
    const aws = s3Definition.configSchema.safeParse({ ...base, provider: 'aws' });
    expect(aws.error!.issues[0]).toMatchObject({ path: ['region'], message: expect.stringMatching(/region is required.*e\.g\. us-east-1/) });
    // The stored settings (no secret) are checked the same way.
    expect(s3Definition.settingsSchema.safeParse({ provider: 'aws', bucket: 'abc', accessKeyId: 'AKIA' }).success).toBe(false);
    const bad = s3Definition.configSchema.safeParse({ ...base, provider: 'nope', bucket: 'Bad_Bucket' });
    expect(bad.error!.issues.map((i) => i.path[0]).sort()).toEqual(['bucket', 'provider']);
    expect(s3Definition.configSchema.safeParse({ ...base, provider: 'other', endpoint: 'ftp://x' }).success).toBe(false);
    expect(s3Definition.configSchema.safeParse({ ...base, provider: 'aws', region: 'eu-west-1', objectLock: { mode: 'FOREVER', days: 1 } }).success).toBe(false);
    expect(s3Definition.configSchema.parse({ ...base, provider: 'aws', region: 'eu-west-1', objectLock: { mode: 'GOVERNANCE', days: 30 }, root: 'a/b' })).toMatchObject({ objectLock: { days: 30 } });
  });

  it('keeps the secret access key secret (the access key id is shown, as rclone shows it)', () => {
    expect(s3Definition.secretKeys).toEqual(['secretAccessKey']);
    expect(Object.keys((s3Definition.secretsSchema as unknown as { shape: object }).shape)).toEqual(['secretAccessKey']);
  });

  it('sizes parts from the preset: min part, max parts, whole MiB, at least what was asked, fixed per upload', () => {
    expect(partSizeFor(providers.aws, 100 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(providers.aws, 100 * MiB, 16 * MiB)).toBe(16 * MiB);
    expect(partSizeFor(providers.aws, 100 * MiB, 6 * MiB + 1)).toBe(7 * MiB);
    // 1 TiB in at most 10,000 parts: 104.9 MiB → 105 MiB.
    expect(partSizeFor(providers.aws, 1024 * 1024 * MiB)).toBe(105 * MiB);
    // Scaleway: 1,000 parts at most.
    expect(partSizeFor(providers.scaleway, 100 * 1024 * MiB)).toBe(103 * MiB);
    expect(Math.ceil((100 * 1024 * MiB) / partSizeFor(providers.scaleway, 100 * 1024 * MiB))).toBeLessThanOrEqual(1000);
    expect(providers.r2).toMatchObject({ equalParts: true, checksumHeaders: false });
    expect(providers.b2.checksumHeaders).toBe(false);
    for (const id of providerIds) expect(providers[id].minPartSize).toBeGreaterThanOrEqual(5 * MiB);
  });
});

describe('s3 wire conventions (rclone)', () => {
  it('writes mtimes as float seconds and reads rclone nanoseconds', () => {
    expect(formatMtime(1_600_000_000_123)).toBe('1600000000.123');
    expect(formatMtime(1_600_000_000_100)).toBe('1600000000.1');
    expect(formatMtime(1_600_000_000_000)).toBe('1600000000');
    expect(parseMtime('1600000000.123456789')).toBe(1_600_000_000_123);
    expect(parseMtime('1600000000')).toBe(1_600_000_000_000);
    expect(parseMtime('1600000000.5')).toBe(1_600_000_000_500);
    expect(parseMtime('1e9')).toBeUndefined();
    expect(parseMtime(undefined)).toBeUndefined();
  });

  it('takes MD5s from single-part ETags and base64 Md5chksum only', () => {
    expect(md5OfEtag('"5eb63bbbe01eeed093cb22bb8f5acdc3"')).toBe('5eb63bbbe01eeed093cb22bb8f5acdc3');
    expect(md5OfEtag('"5eb63bbbe01eeed093cb22bb8f5acdc3-3"')).toBeUndefined();
    expect(md5Base64ToHex('XrY7u+Ae7tCTyyK7j1rNww==')).toBe('5eb63bbbe01eeed093cb22bb8f5acdc3');
    expect(md5Base64ToHex('not base64')).toBeUndefined();
  });

  it('addresses path style and virtual-host style, with keys encoded for SigV4', () => {
    const http = new HttpClient();
    const mk = (pathStyle: boolean) => new S3Client(http, { endpoint: new URL('https://s3.eu-north-1.amazonaws.com'), region: 'eu-north-1', bucket: 'bkt', pathStyle }, 'AKIA', memoryCredentials({}));
    expect(mk(true).target('a b/c+d?#%', { uploadId: 'x/y+z' })).toEqual({ host: 's3.eu-north-1.amazonaws.com', path: '/bkt/a%20b/c%2Bd%3F%23%25?uploadId=x%2Fy%2Bz' });
    expect(mk(false).target('dir/', { uploads: '' })).toEqual({ host: 'bkt.s3.eu-north-1.amazonaws.com', path: '/dir/?uploads' });
    expect(mk(false).target(null)).toEqual({ host: 'bkt.s3.eu-north-1.amazonaws.com', path: '/' });
    void http.close();
  });
});

describe('s3 error table', () => {
  it('maps S3 codes and bare statuses to kinds', () => {
    const kind = (status: number, code?: string) => classifyS3Failure(status, code).kind;
    expect(kind(503, 'SlowDown')).toBe('throttled');
    expect(kind(503)).toBe('throttled');
    expect(kind(429)).toBe('throttled');
    expect(kind(404, 'NoSuchKey')).toBe('not_found');
    expect(kind(404, 'NoSuchBucket')).toBe('not_found');
    expect(kind(404, 'NoSuchUpload')).toBe('not_found');
    expect(kind(403, 'InvalidAccessKeyId')).toBe('auth');
    expect(kind(403, 'SignatureDoesNotMatch')).toBe('auth');
    expect(kind(403, 'AccessDenied')).toBe('forbidden');
    expect(kind(403)).toBe('auth');
    expect(kind(400, 'EntityTooLarge')).toBe('too_large');
    expect(kind(412, 'PreconditionFailed')).toBe('corrupt');
    expect(kind(400, 'InvalidPart')).toBe('corrupt');
    expect(kind(400, 'BadDigest')).toBe('corrupt');
    expect(kind(403, 'QuotaExceeded')).toBe('quota_exceeded');
    expect(kind(400, 'KeyTooLongError')).toBe('invalid_name');
    expect(kind(500, 'InternalError')).toBe('transient');
    expect(kind(400, 'RequestTimeout')).toBe('transient');
  });

  it('reads the <Error> body, names the remote for auth, keeps Retry-After', () => {
    const body = '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';
    const e = mapS3Error(503, body, 'list "x"', 'r', 3000);
    expect(e).toMatchObject({ kind: 'throttled', retryAfterMs: 3000, scope: 'account', status: 503 });
    expect(e.message).toMatch(/SlowDown: Please reduce/);
    const a = mapS3Error(403, '<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>', 'stat "x"', 'backup');
    expect(a.kind).toBe('auth');
    expect(a.message).toMatch(/remote "backup".*new access key/);
  });
});
