import { createHash } from 'node:crypto';

/**
 * Host key pinning. A remote names its server's key either as the fingerprint `ssh-keygen -lf`
 * prints (`SHA256:` + unpadded base64 of the key blob's SHA-256) or as the public key line
 * (`ssh-ed25519 AAAA… [comment]`, as in known_hosts or the server's .pub file).
 */
export type HostKeyPin = { kind: 'fingerprint'; sha256: string } | { kind: 'key'; blob: Buffer };

const fingerprintRe = /^SHA256:([A-Za-z0-9+/]{43})=?$/;
const keyLineRe = /^(?:\S+\s+)?((?:ssh|ecdsa|sk)-[A-Za-z0-9@.-]+)\s+([A-Za-z0-9+/]+={0,2})(?:\s.*)?$/;

/** The pin a hostKey setting names, or a sentence saying why it names none. */
export function parseHostKey(value: string): HostKeyPin | string {
  const v = value.trim();
  const fp = fingerprintRe.exec(v);
  if (fp) return { kind: 'fingerprint', sha256: fp[1]! };
  const line = keyLineRe.exec(v);
  if (line) {
    const blob = Buffer.from(line[2]!, 'base64');
    // The blob starts with its own type name: a line whose parts disagree was mangled.
    const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
    if (len > 0 && blob.subarray(4, 4 + len).toString('latin1') === line[1]) return { kind: 'key', blob };
    return 'the public key line is damaged: its base64 part does not hold a key of the type it names';
  }
  return 'hostKey must be the SHA256 fingerprint that `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints on the server (SHA256:…, 43 base64 characters) or the public key line itself (ssh-ed25519 AAAA…)';
}

/** `SHA256:<base64>` of a key blob, as OpenSSH prints it. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function hostKeyMatches(pin: HostKeyPin, blob: Buffer): boolean {
  return pin.kind === 'key' ? pin.blob.equals(blob) : fingerprintOf(blob) === `SHA256:${pin.sha256}`;
}
