/**
 * The emulator's white-label realms checked by an independent client: an unmodified rclone with
 * the section its traditional (authorization-code) flow saves for Telia Cloud (jottacloud-api.md
 * §2.4, §2.6: `configVersion = 1`, `client_id = desktop`, the realm's token endpoint as `tokenURL`)
 * refreshes at https://cloud-auth.telia.se (reached through a private hosts file, test/fakes/
 * jottacloud/rclone.ts) and uploads; knarr's white-label connector reads what rclone wrote, and the
 * other way round, in the same account. rclone missing = failure, never a skip.
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJottacloudConnector, type JottacloudConnector } from '../../connectors/jottacloud/index.js';
import { unrestrictedHost } from '../../connectors/types.js';
import { bufferSource, collect, readAll } from '../conformance/suite.js';
import { findRclones, INSTALL_HINT, type RcloneHarness, startRcloneHarness } from '../fakes/jottacloud/rclone.js';
import { memoryCredentials } from '../support/memoryCredentials.js';

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const rclones = await findRclones();

if (rclones.length === 0) {
  describe('rclone against the emulator as Telia Cloud', () => {
    it('needs rclone', () => {
      throw new Error(INSTALL_HINT);
    });
  });
}

describe.each(rclones)('rclone (%s) against the emulator as Telia Cloud', (bin) => {
  let h: RcloneHarness;
  let account: string;
  let knarr: JottacloudConnector;
  const fromRclone = randomBytes(2 * 1024 * 1024 + 3);
  const fromKnarr = randomBytes(50_000);

  beforeAll(async () => {
    h = await startRcloneHarness({ rclone: bin });
    account = h.emu.addAccount(`telia-${randomBytes(3).toString('hex')}`, { realm: 'telia_se' });
    // A lapsed access token: rclone's first request must refresh at the realm.
    const token = { ...h.emu.issueToken(account), expiry: new Date(Date.now() - 60_000).toISOString() };
    await appendFile(
      join(h.dir, 'rclone.conf'),
      [
        '',
        '[telia]',
        'type = jottacloud',
        'configVersion = 1',
        'client_id = desktop',
        'client_secret =',
        'tokenURL = https://cloud-auth.telia.se/auth/realms/telia_se/protocol/openid-connect/token',
        `token = ${JSON.stringify(token)}`,
        'device = Jotta',
        'mountpoint = Archive',
        '',
      ].join('\n'),
    );
    // knarr's remote of the same account: its own session, from its own pasted token.
    knarr = createJottacloudConnector(
      { whiteLabel: 'telia_se', tokenUrl: h.emu.realmUrls('telia_se').tokenUrl, jfsUrl: h.emu.jfsUrl, apiUrl: h.emu.apiUrl },
      { host: unrestrictedHost, remoteName: 'telia', credentials: memoryCredentials({ token: h.emu.issueToken(account) }) },
      { ca: h.emu.caCert },
    );
  });
  afterAll(async () => {
    await knarr?.close();
    await h?.stop();
  });

  it("refreshes at Telia's realm with the desktop client, and knarr reads what it uploaded", async () => {
    const local = join(h.dir, 'telia-local');
    await mkdir(local, { recursive: true });
    await writeFile(join(local, 'from-rclone.bin'), fromRclone);
    await h.ok(['copy', local, 'telia:shared']);

    const sessions = h.emu.sessions(account);
    expect(sessions[0]).toMatchObject({ realm: 'telia_se', clientId: 'desktop', revoked: false });
    expect(sessions[0].refreshes).toBeGreaterThanOrEqual(1);
    // rclone saved the rotated refresh token (§2.5), so it never presents a spent one.
    expect(h.emu.authStats().reuseDetected).toBe(0);

    const { entries } = await collect(knarr.list('shared'));
    expect(entries.map((e) => [e.path, e.size, e.hashes.md5])).toEqual([['shared/from-rclone.bin', fromRclone.length, md5(fromRclone)]]);
    expect((await readAll(await knarr.read('shared/from-rclone.bin'))).equals(fromRclone)).toBe(true);
  });

  it('lists and reads what knarr uploaded', async () => {
    await knarr.write('shared/from-knarr.bin', bufferSource(fromKnarr));
    const listed = JSON.parse(await h.ok(['lsjson', '--hash', 'telia:shared'])) as { Name: string; Size: number; Hashes?: { md5?: string } }[];
    expect(listed.map((e) => [e.Name, e.Size, e.Hashes?.md5]).sort()).toEqual([
      ['from-knarr.bin', fromKnarr.length, md5(fromKnarr)],
      ['from-rclone.bin', fromRclone.length, md5(fromRclone)],
    ]);
    expect(await h.ok(['md5sum', 'telia:shared/from-knarr.bin'])).toContain(md5(fromKnarr));
    expect(h.emu.authStats().reuseDetected).toBe(0);
  });
});
