import { describe, expect, it } from 'vitest';
import { checkAuthUrl, decodeLoginToken, LoginTokenError, refreshMarginMs } from '../../connectors/jottacloud/auth.js';
import { jottacloudDefinition } from '../../connectors/jottacloud/definition.js';
import { splitSecrets } from '../../core/remote.js';

const { configSchema: jottacloudConfigSchema, settingsSchema: jottacloudSettingsSchema } = jottacloudDefinition;

// shared/specs/jottacloud-api.md §2.1: base64url without padding of a JSON object with four strings.
const sample = {
  username: 'u1',
  realm: 'jottacloud',
  well_known_link: 'http://127.0.0.1:8080/auth/realms/jottacloud/.well-known/openid-configuration',
  auth_token: 'otp-123',
};
const encode = (o: unknown) => Buffer.from(JSON.stringify(o), 'utf8').toString('base64url');

function errorOf(fn: () => unknown): LoginTokenError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LoginTokenError);
    return err as LoginTokenError;
  }
  throw new Error('expected a LoginTokenError');
}

describe('Personal Login Token decoding (§2.1)', () => {
  it('decodes the spec example', () => {
    const token = encode(sample);
    expect(token).not.toMatch(/=/);
    expect(decodeLoginToken(token)).toEqual({
      username: 'u1',
      realm: 'jottacloud',
      wellKnownLink: sample.well_known_link,
      authToken: 'otp-123',
    });
  });

  it('decodes a realistic token of about 280 characters whose bytes need both base64url letters', () => {
    // A long auth_token with bytes that encode to '-' and '_' (the #3945 failure of padded std base64).
    const long = { ...sample, well_known_link: 'https://id.jottacloud.com/auth/realms/jottacloud/.well-known/openid-configuration', auth_token: '\u00ff\u00fe>>>??'.repeat(20) };
    const token = encode(long);
    expect(token.length).toBeGreaterThan(250);
    expect(token).toMatch(/[-_]/);
    expect(decodeLoginToken(token).authToken).toBe(long.auth_token);
  });

  it('is lenient with what a paste adds: padding, line breaks, spaces, the standard alphabet', () => {
    const token = encode({ ...sample, auth_token: 'ÿþ>>?' });
    const padded = token + '='.repeat((4 - (token.length % 4)) % 4);
    const wrapped = `  ${token.slice(0, 20)}\n${token.slice(20, 40)}\r\n${token.slice(40)}  `;
    const standard = token.replace(/-/g, '+').replace(/_/g, '/');
    for (const t of [padded, wrapped, standard]) expect(decodeLoginToken(t).authToken).toBe('ÿþ>>?');
  });

  it('refuses an empty token', () => {
    expect(errorOf(() => decodeLoginToken('')).message).toMatch(/empty/);
    expect(errorOf(() => decodeLoginToken('   ')).message).toMatch(/empty/);
    expect(errorOf(() => decodeLoginToken(undefined)).message).toMatch(/empty/);
  });

  it('names a character that is not base64url, by position, without quoting the token', () => {
    const token = encode(sample);
    const bad = `${token.slice(0, 10)}!${token.slice(10)}`;
    const err = errorOf(() => decodeLoginToken(bad));
    expect(err.message).toMatch(/"!" at position 11/);
    expect(err.message).not.toContain(token.slice(0, 10));
  });

  it('says a cut-off token is cut off', () => {
    const token = encode(sample);
    expect(errorOf(() => decodeLoginToken(token.slice(0, 41))).message).toMatch(/impossible length|cut off/);
    expect(errorOf(() => decodeLoginToken(token.slice(0, 40))).message).toMatch(/does not decode to JSON.*cut off/);
  });

  it('refuses JSON that is not a login token, naming the missing field', () => {
    expect(errorOf(() => decodeLoginToken(encode([1, 2]))).message).toMatch(/JSON object/);
    expect(errorOf(() => decodeLoginToken(encode('text'))).message).toMatch(/JSON object/);
    for (const k of ['username', 'realm', 'well_known_link', 'auth_token'] as const) {
      const { [k]: _drop, ...rest } = sample;
      expect(errorOf(() => decodeLoginToken(encode(rest))).message).toBe(`the login token lacks "${k}"`);
      expect(errorOf(() => decodeLoginToken(encode({ ...sample, [k]: 42 }))).message).toBe(`the login token lacks "${k}"`);
    }
  });

  it('refuses a well_known_link that is not https (plain http only to this machine)', () => {
    expect(errorOf(() => decodeLoginToken(encode({ ...sample, well_known_link: 'http://id.example.com/x' }))).message).toMatch(/well_known_link must be an https URL/);
    expect(errorOf(() => decodeLoginToken(encode({ ...sample, well_known_link: 'not a url' }))).message).toMatch(/well_known_link is not an absolute URL/);
    expect(() => checkAuthUrl('http://localhost:1/x', 'u')).not.toThrow();
    expect(() => checkAuthUrl('http://[::1]:1/x', 'u')).not.toThrow();
    expect(() => checkAuthUrl('https://id.jottacloud.com/x', 'u')).not.toThrow();
    expect(() => checkAuthUrl('ftp://127.0.0.1/x', 'u')).toThrow(/https/);
  });
});

describe('token refresh margin (§2.5)', () => {
  it("is rclone's 10 s for hour-long tokens and a fifth of a short token's lifetime", () => {
    expect(refreshMarginMs(3600)).toBe(10_000);
    expect(refreshMarginMs(2)).toBe(400);
    expect(refreshMarginMs(50)).toBe(10_000);
  });
});

describe('the remote config schema', () => {
  const token = encode(sample);

  it('defaults to Jotta/Archive and keeps the login token a secret', () => {
    const config = jottacloudConfigSchema.parse({ loginToken: token });
    expect(config).toEqual({ loginToken: token, device: 'Jotta', mountpoint: 'Archive' });
    // token and clientSecret are a white-label remote's secrets (test/unit/jottacloud-whitelabel.test.ts).
    expect(jottacloudDefinition.secretKeys).toEqual(['loginToken', 'token', 'clientSecret']);
    const { config: pub, secrets } = splitSecrets(jottacloudDefinition.secretKeys, config);
    expect(secrets).toEqual({ loginToken: token });
    expect(pub).toEqual({ device: 'Jotta', mountpoint: 'Archive' });
    expect(jottacloudSettingsSchema.parse(pub)).toEqual(pub);
    // The stored settings never take a secret back, and a reconnect takes nothing but the secrets.
    expect(jottacloudSettingsSchema.safeParse({ ...pub, loginToken: token }).success).toBe(false);
    expect(jottacloudDefinition.secretsSchema.parse({ loginToken: token })).toEqual({ loginToken: token });
    expect(jottacloudDefinition.secretsSchema.safeParse({ loginToken: token, device: 'Jotta' }).success).toBe(false);
  });

  it('takes a mountpoint, a device and test URLs, and refuses unknown keys and bad values', () => {
    expect(jottacloudConfigSchema.parse({ loginToken: token, mountpoint: 'Sync', jfsUrl: 'http://127.0.0.1:9/jfs/', apiUrl: 'http://127.0.0.1:9/' })).toMatchObject({ mountpoint: 'Sync' });
    expect(jottacloudConfigSchema.safeParse({ loginToken: token, bucket: 'x' }).success).toBe(false);
    expect(jottacloudConfigSchema.safeParse({ loginToken: token, mountpoint: 'a/b' }).success).toBe(false);
    expect(jottacloudConfigSchema.safeParse({ loginToken: token, jfsUrl: 'ftp://x/' }).success).toBe(false);
    expect(jottacloudConfigSchema.safeParse({}).success).toBe(false);
    const bad = jottacloudConfigSchema.safeParse({ loginToken: 'short' });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toMatch(/Account → Security/);
  });
});
