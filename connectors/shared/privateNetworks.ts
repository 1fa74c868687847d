import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Addresses a remote on a service for many users must not reach: this machine, its networks and
 * the cloud's metadata service. Otherwise a user could point a remote's endpoint at them and have
 * knarr's worker make requests there (server-side request forgery).
 */
const privateRanges = new BlockList();
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) {
  privateRanges.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) privateRanges.addSubnet(net, prefix, 'ipv6');

export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  // An IPv4 address written as IPv6 (::ffff:127.0.0.1) is the IPv4 address.
  const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] : undefined;
  if (mapped) return privateRanges.check(mapped, 'ipv4');
  return privateRanges.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** The code a refused address fails with, which the HTTP client maps to `forbidden`. */
export const privateAddressCode = 'EKNARRPRIVATE';

/** `dns.lookup` that fails for a name resolving to a private address (the check runs at every connect, so DNS cannot be swapped after a check). */
export function publicOnlyLookup(hostname: string, options: object, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) {
      return callback(Object.assign(new Error(`${hostname} is ${bad.address}, a private or local address, which remotes on this server may not reach`), { code: privateAddressCode }), []);
    }
    const all = (options as { all?: boolean }).all;
    if (all) return callback(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}
