import { describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../../connectors/shared/privateNetworks.js';

describe('private addresses', () => {
  it('are loopback, RFC 1918, carrier-grade NAT, link-local (the metadata service), unique-local and unspecified ones', () => {
    for (const ip of ['127.0.0.1', '127.8.9.10', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      expect(isPrivateAddress(ip), ip).toBe(true);
    }
  });
  it('are not public ones, nor names', () => {
    for (const ip of ['8.8.8.8', '172.32.0.1', '192.169.0.1', '100.128.0.1', '2a00:1450:4010::200e', '::ffff:8.8.8.8', 'jfs.jottacloud.com']) {
      expect(isPrivateAddress(ip), ip).toBe(false);
    }
  });
});
