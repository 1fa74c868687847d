import { describe, expect, it } from 'vitest';
import { jottacloudDefinition } from '../../connectors/jottacloud/definition.js';
import { authMessage } from '../../connectors/jottacloud/errors.js';
import { whiteLabelLogin } from '../../connectors/jottacloud/index.js';
import { realmEndpoints, WHITE_LABELS, whiteLabelKeys } from '../../connectors/jottacloud/whiteLabels.js';
import { oauthOf } from '../../connectors/oauthConnect.js';

const { configSchema, settingsSchema } = jottacloudDefinition;
const token = { access_token: 'a', refresh_token: 'r', token_type: 'Bearer', expiry: '2030-01-01T00:00:00Z' };
const issueText = (r: { success: boolean; error?: { issues: unknown[] } }) => JSON.stringify(r.error?.issues ?? []);

describe('Jottacloud white-labels (jottacloud-api.md §2.6)', () => {
  it('has the Telia realms of §2.6 and the rest of its table', () => {
    expect(WHITE_LABELS.telia_se).toMatchObject({ name: 'Telia Cloud', domain: 'cloud-auth.telia.se', realm: 'telia_se', clientId: 'desktop' });
    expect(WHITE_LABELS.telia_no).toMatchObject({ name: 'Telia Sky', domain: 'sky-auth.telia.no', realm: 'get', clientId: 'desktop' });
    expect(WHITE_LABELS.telia_se.scopes).toEqual(['openid', 'jotta-default', 'offline_access']);
    expect(WHITE_LABELS.phonero).toMatchObject({ clientId: 'desktop-win', scopes: ['openid', 'offline_access'] });
    expect(WHITE_LABELS.tele2).toMatchObject({ domain: 'mittcloud-auth.tele2.se', realm: 'comhem' });
    expect(whiteLabelKeys).toHaveLength(12);
    expect(realmEndpoints(WHITE_LABELS.telia_no)).toEqual({
      wellKnown: 'https://sky-auth.telia.no/auth/realms/get/.well-known/openid-configuration',
      authUrl: 'https://sky-auth.telia.no/auth/realms/get/protocol/openid-connect/auth',
      tokenUrl: 'https://sky-auth.telia.no/auth/realms/get/protocol/openid-connect/token',
    });
  });

  it('connects a white-label remote through its login page, and Jottacloud itself with a login token', () => {
    expect(oauthOf(jottacloudDefinition, { whiteLabel: 'telia_se' })).toEqual({
      name: 'Telia Cloud',
      authUrl: 'https://cloud-auth.telia.se/auth/realms/telia_se/protocol/openid-connect/auth',
      tokenUrl: 'https://cloud-auth.telia.se/auth/realms/telia_se/protocol/openid-connect/token',
      scopes: ['openid', 'jotta-default', 'offline_access'],
      envPrefix: 'TELIA',
      defaultClient: { clientId: 'desktop' },
    });
    expect(oauthOf(jottacloudDefinition, { device: 'Jotta' })).toBeUndefined();
  });

  it('takes a white-label remote without any secret (the connect flow) or with a token object, never with a login token', () => {
    expect(configSchema.parse({ whiteLabel: 'telia_no' })).toEqual({ whiteLabel: 'telia_no', device: 'Jotta', mountpoint: 'Archive' });
    const pasted = configSchema.parse({ whiteLabel: 'telia_se', token: JSON.stringify(token), tokenUrl: 'http://127.0.0.1:9/t', authUrl: 'https://x.example/a', clientId: 'desktop' });
    expect(pasted.token).toEqual(token);
    const withLogin = configSchema.safeParse({ whiteLabel: 'telia_se', loginToken: 'eyJ1c2VybmFtZSI6InUxIiwicmVhbG0iOiJq' });
    expect(withLogin.success).toBe(false);
    expect(issueText(withLogin)).toMatch(/Telia Cloud login page/);
    expect(configSchema.safeParse({ whiteLabel: 'telia_dk' }).success).toBe(false);
    // A token endpoint that would carry refresh tokens over plain http to another machine is refused.
    expect(configSchema.safeParse({ whiteLabel: 'telia_se', tokenUrl: 'http://10.0.0.1/t' }).success).toBe(false);
  });

  it('keeps a standard remote as it was: a login token, and no white-label field', () => {
    const missing = configSchema.safeParse({});
    expect(missing.success).toBe(false);
    expect(issueText(missing)).toMatch(/loginToken is required.*Account → Security/);
    const stray = configSchema.safeParse({ token });
    expect(stray.success).toBe(false);
    expect(issueText(stray)).toMatch(/token is only for a white-label remote/);
    // The stored settings hold no secret, so the login-token rule waits for the full config.
    expect(settingsSchema.safeParse({ device: 'Jotta', mountpoint: 'Archive' }).success).toBe(true);
    expect(settingsSchema.safeParse({ device: 'Jotta', mountpoint: 'Archive', tokenUrl: 'https://x.example/t' }).success).toBe(false);
  });

  it('refreshes at the realm with the label client, unless the config names others', () => {
    expect(whiteLabelLogin({ whiteLabel: 'telia_se' })).toMatchObject({
      tokenEndpoint: 'https://cloud-auth.telia.se/auth/realms/telia_se/protocol/openid-connect/token',
      clientId: 'desktop',
    });
    expect(whiteLabelLogin({ whiteLabel: 'letsgo', tokenUrl: 'http://127.0.0.1:9/t', clientId: 'mine' })).toMatchObject({ tokenEndpoint: 'http://127.0.0.1:9/t', clientId: 'mine' });
    expect(whiteLabelLogin({})).toBeUndefined();
  });

  it("tells a white-label user to reconnect through the label's login page", () => {
    const m = authMessage('sky', 'HTTP 400, invalid_grant', WHITE_LABELS.telia_no);
    expect(m).toMatch(/^Telia Sky refused the credentials of remote "sky"/);
    expect(m).toContain('through the Telia Sky login page');
    expect(m).not.toMatch(/Account → Security/);
  });
});
