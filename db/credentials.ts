import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Sealed credentials, as stored in `remotes.credentials` (bytea):
 *
 *   offset  size  field
 *   0       1     version, 0x01
 *   1       4     key id: the first 4 bytes of HMAC-SHA256(key, "knarr credential key id")
 *   5       12    IV, random per seal
 *   17      n     ciphertext of the UTF-8 JSON of the secrets object
 *   17+n    16    GCM authentication tag
 *
 * The version and key id are authenticated (they are part of the GCM additional data), along with
 * an optional caller-supplied context. The key id lets a wrong master key be told apart from
 * corruption, and leaves room for key rotation (open with any of several keys by id); it reveals
 * nothing about the key. A fresh 96-bit random IV per seal stays far below GCM's 2^32-messages-per-key
 * limit at any realistic number of credential writes.
 */
const VERSION = 0x01;
const KEY_ID_LEN = 4;
const IV_LEN = 12;
const TAG_LEN = 16;
const HEADER_LEN = 1 + KEY_ID_LEN + IV_LEN;
export const KEY_LENGTH = 32;

export type CredentialErrorKind = 'malformed' | 'unsupported_version' | 'wrong_key' | 'tampered';

/** Never carries plaintext: the messages are fixed strings plus key ids. */
export class CredentialError extends Error {
  override name = 'CredentialError';
  constructor(readonly kind: CredentialErrorKind, message: string) {
    super(message);
  }
}

export class CredentialCipher {
  // Private fields stay out of util.inspect, console.log and JSON.stringify.
  readonly #key: Buffer;
  readonly #keyId: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_LENGTH) {
      throw new RangeError(`the credential key must be ${KEY_LENGTH} bytes, got ${key.length}`);
    }
    this.#key = Buffer.from(key); // a copy: the caller may zero or reuse theirs
    this.#keyId = createHmac('sha256', this.#key).update('knarr credential key id').digest().subarray(0, KEY_ID_LEN);
  }

  /** Hex key id, safe to log: tells which master key sealed what. */
  get keyId(): string {
    return this.#keyId.toString('hex');
  }

  /**
   * `context` binds the sealed value to where it is stored (e.g. the remote's id), so a value
   * copied into another row no longer opens; the same context must be given to `open`.
   */
  seal(secrets: Record<string, unknown>, context = ''): Buffer {
    if (secrets === null || typeof secrets !== 'object' || Array.isArray(secrets)) {
      throw new TypeError('credentials to seal must be a JSON object');
    }
    const header = Buffer.alloc(HEADER_LEN);
    header[0] = VERSION;
    this.#keyId.copy(header, 1);
    const iv = randomBytes(IV_LEN);
    iv.copy(header, 1 + KEY_ID_LEN);
    const plain = Buffer.from(JSON.stringify(secrets), 'utf8');
    try {
      const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_LEN });
      cipher.setAAD(aad(header, context));
      return Buffer.concat([header, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    } finally {
      plain.fill(0);
    }
  }

  open<T extends Record<string, unknown> = Record<string, unknown>>(sealed: Uint8Array, context = ''): T {
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (buf.length < HEADER_LEN + TAG_LEN) {
      throw new CredentialError('malformed', `sealed credentials are too short (${buf.length} bytes): the stored value is corrupt`);
    }
    if (buf[0] !== VERSION) {
      throw new CredentialError('unsupported_version', `sealed credentials have format version ${buf[0]}, this knarr reads version ${VERSION}: the stored value is corrupt or from a newer knarr`);
    }
    const keyId = buf.subarray(1, 1 + KEY_ID_LEN);
    if (!keyId.equals(this.#keyId)) {
      throw new CredentialError(
        'wrong_key',
        `credentials were sealed with a different master key (key id ${keyId.toString('hex')}, the current key is ${this.keyId}): ` +
          'start knarr with the KNARR_MASTER_KEY or master.key file they were stored with, or reconnect the remote',
      );
    }
    const header = buf.subarray(0, HEADER_LEN);
    const iv = buf.subarray(1 + KEY_ID_LEN, HEADER_LEN);
    const body = buf.subarray(HEADER_LEN, buf.length - TAG_LEN);
    const tag = buf.subarray(buf.length - TAG_LEN);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_LEN });
      decipher.setAAD(aad(header, context));
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      // The same key id with a failed tag: the bytes (or the context) changed since sealing.
      throw new CredentialError('tampered', 'sealed credentials failed authentication: the stored value was modified or is corrupt');
    }
    try {
      const value: unknown = JSON.parse(plain.toString('utf8'));
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
      return value as T;
    } catch {
      // JSON.parse's own message quotes the input, which is the plaintext: never pass it on.
      throw new CredentialError('malformed', 'sealed credentials decrypted but are not a JSON object');
    } finally {
      plain.fill(0);
    }
  }
}

function aad(header: Buffer, context: string): Buffer {
  return context === '' ? header : Buffer.concat([header, Buffer.from(context, 'utf8')]);
}
