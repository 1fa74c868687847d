import { createHmac, hkdfSync, randomBytes } from 'node:crypto';

const keyPattern = /^knarr_[A-Za-z0-9_-]{43}$/;

/**
 * API keys are 256 random bits, so a fast keyed hash is as safe as a slow one: nobody can guess
 * one. The hash is keyed with a secret derived from the master key, so a copy of the database
 * alone cannot even test a key that leaked elsewhere.
 */
export class KeyHasher {
  private readonly secret: Buffer;

  constructor(masterKey: Buffer) {
    this.secret = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'knarr api keys', 32));
  }

  hash(key: string): Buffer {
    return createHmac('sha256', this.secret).update(key).digest();
  }
}

export function newApiKey(): string {
  return `knarr_${randomBytes(32).toString('base64url')}`;
}

/** Whether `key` has the shape of a knarr key at all (KNARR_ADMIN_KEY is checked with it). */
export function isApiKeyShape(key: string): boolean {
  return keyPattern.test(key);
}

/** What a list of keys shows of one: enough to tell keys apart, far too little to use. */
export function keyPrefix(key: string): string {
  return key.slice(0, 10);
}
