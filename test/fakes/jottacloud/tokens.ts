/**
 * Personal Login Tokens (shared/specs/jottacloud-api.md §2.1): base64url *without padding* of a
 * JSON object with `username`, `realm`, `well_known_link` and `auth_token`. The `auth_token` is a
 * one-time secret, accepted once as the password of the password grant.
 */
import { randomBytes } from 'node:crypto';
import type { LoginTokenJson } from './wire.js';

export function encodeLoginToken(t: LoginTokenJson): string {
  return Buffer.from(JSON.stringify(t), 'utf8').toString('base64url'); // Node's base64url has no padding
}

/** Decodes like rclone (`base64.RawURLEncoding`, §2.1); throws on anything else. */
export function decodeLoginToken(s: string): LoginTokenJson {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) throw new Error('login token is not unpadded base64url');
  const obj = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Partial<LoginTokenJson>;
  for (const k of ['username', 'realm', 'well_known_link', 'auth_token'] as const) {
    if (typeof obj[k] !== 'string') throw new Error(`login token lacks ${k}`);
  }
  return obj as LoginTokenJson;
}

/** Outstanding one-time secrets: auth_token → username. */
export class LoginTokens {
  private readonly pending = new Map<string, string>();
  private readonly spent = new Set<string>();

  issue(username: string, realm: string, wellKnownLink: string): string {
    // Real tokens are ~250–300 characters (§2.1); a 96-byte secret lands in that range.
    const authToken = randomBytes(96).toString('base64url');
    this.pending.set(authToken, username);
    return encodeLoginToken({ username, realm, well_known_link: wellKnownLink, auth_token: authToken });
  }

  /** Spends a secret. 'spent' for a reuse (§2.1 "A second exchange fails"), 'unknown' otherwise. */
  redeem(username: string, authToken: string): 'ok' | 'spent' | 'unknown' {
    const owner = this.pending.get(authToken);
    if (owner === undefined) return this.spent.has(authToken) ? 'spent' : 'unknown';
    if (owner.toLowerCase() !== username.toLowerCase()) return 'unknown';
    this.pending.delete(authToken);
    this.spent.add(authToken);
    return 'ok';
  }
}
