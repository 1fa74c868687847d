import { describe, expect, it } from 'vitest';
import {
  formatAllocateTime,
  formatJottaTime,
  isVisibleFile,
  parseJfsError,
  parseJfsNode,
  parseJfsUser,
  parseJottaTime,
  parseListStreamChild,
  WireError,
  type JfsFolder,
  type JfsNode,
} from '../../connectors/jottacloud/wire.js';
import { XmlError, XmlStream } from '../../connectors/shared/xml.js';

const t = (iso: string) => Date.parse(iso);

// shared/specs/jottacloud-api.md §4.2, the illustrative folder listing, verbatim.
const folderListing = `<?xml version="1.0" encoding="UTF-8"?>
<folder name="docs" time="2024-05-01-T08:34:40Z" host="emu">
  <path xml:space="preserve">/u1/Jotta/Archive</path>
  <abspath xml:space="preserve">/u1/Jotta/Archive</abspath>
  <folders><folder name="sub"/><folder name="old" deleted="2024-04-01-T10:00:00Z"><abspath xml:space="preserve">/u1/Jotta/Archive/docs</abspath></folder></folders>
  <files>
    <file name="a.txt" uuid="0b6c2f4e-...">
      <currentRevision><number>2</number><state>COMPLETED</state><created>2024-05-01-T08:19:09Z</created><modified>2024-05-01-T08:19:09Z</modified><mime>text/plain</mime><mstyle>TEXT_PLAIN</mstyle><size>5</size><md5>5d41402abc4b2a76b9719d911017c592</md5><updated>2024-05-01-T08:34:40Z</updated></currentRevision>
    </file>
  </files>
  <metadata first="" max="" total="3" num_folders="2" num_files="1"/>
</folder>`;

const rev = (tag: string, o: { n: number; state: string; size?: number; md5: string; modified?: string }) =>
  `<${tag}><number>${o.n}</number><state>${o.state}</state><created>2017-03-04-T09:44:04Z</created>` +
  `<modified>${o.modified ?? '2017-03-04-T09:44:04Z'}</modified><mime>application/octet-stream</mime><mstyle>APPLICATION_OCTET_STREAM</mstyle>` +
  (o.size === undefined ? '' : `<size>${o.size}</size>`) +
  `<md5>${o.md5}</md5><updated>2017-03-04-T09:44:05+0100</updated></${tag}>`;

// §4.2 / §5: a mountpoint listing with every file shape the listing rules (§4.3) distinguish.
const mountPoint = `<?xml version="1.0" encoding="UTF-8"?>
<mountPoint time="2018-07-24-T20:41:37Z" host="dn-158">
<name xml:space="preserve">Archive</name><path xml:space="preserve">/u1/Jotta</path><abspath xml:space="preserve">/u1/Jotta</abspath>
<size>123</size><modified>2018-07-24-T20:41:37Z</modified><device>Jotta</device><user>u1</user>
<folders><folder name="Fish &amp; Chips &lt;1&gt;"/></folders>
<files>
<file name="done.bin" uuid="1">${rev('currentRevision', { n: 1, state: 'COMPLETED', size: 10, md5: 'AABBCCDDEEFF00112233445566778899' })}</file>
<file name="first-upload-running.bin" uuid="2">${rev('latestRevision', { n: 1, state: 'INCOMPLETE', md5: '00000000000000000000000000000000' })}</file>
<file name="first-upload-corrupt.bin" uuid="3">${rev('latestRevision', { n: 1, state: 'CORRUPT', md5: '11111111111111111111111111111111' })}</file>
<file name="old-shown-new-running.bin" uuid="4">${rev('currentRevision', { n: 1, state: 'COMPLETED', size: 7, md5: '22222222222222222222222222222222' })}${rev('latestRevision', { n: 2, state: 'INCOMPLETE', md5: '33333333333333333333333333333333' })}</file>
<file name="old-shown-new-corrupt.bin" uuid="5">${rev('currentRevision', { n: 1, state: 'COMPLETED', size: 8, md5: '44444444444444444444444444444444' })}${rev('latestRevision', { n: 2, state: 'CORRUPT', md5: '55555555555555555555555555555555' })}</file>
<file name="trashed.bin" uuid="6" deleted="2017-03-04-T09:44:04Z"><abspath xml:space="preserve">/u1/Jotta/Archive</abspath>${rev('currentRevision', { n: 1, state: 'COMPLETED', size: 9, md5: '66666666666666666666666666666666' })}</file>
<file name="empty-modified.bin" uuid="7">${rev('currentRevision', { n: 1, state: 'COMPLETED', size: 0, md5: 'd41d8cd98f00b204e9800998ecf8427e', modified: '' })}</file>
</files>
<metadata first="" max="" total="8" num_folders="1" num_files="7"/>
</mountPoint>`;

// §5 "Stat": a file with history and an upload in progress (INCOMPLETE shows <size> on a stat, §4.2).
const fileStat = `<?xml version="1.0" encoding="UTF-8"?>
<file name="report.pdf" uuid="abc" time="2018-07-24-T20:41:37Z" host="dn-158">
<path xml:space="preserve">/u1/Jotta/Archive/docs</path><abspath xml:space="preserve">/u1/Jotta/Archive/docs</abspath>
${rev('currentRevision', { n: 3, state: 'COMPLETED', size: 300, md5: '77777777777777777777777777777777' })}
${rev('latestRevision', { n: 4, state: 'INCOMPLETE', size: 120, md5: '88888888888888888888888888888888' })}
<revisions>${rev('revision', { n: 2, state: 'COMPLETED', size: 200, md5: '99999999999999999999999999999999' })}${rev('revision', { n: 1, state: 'COMPLETED', size: 100, md5: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' })}</revisions>
</file>`;

// §5: a trashed file answers 200 with `deleted` (rclone: not found).
const fileDeleted = `<?xml version="1.0" encoding="UTF-8"?><file name="x" uuid="u" deleted="2017-03-04-T09:44:04Z" time="2017-03-04-T09:44:04Z" host="dn-1"><path xml:space="preserve">/u1/Jotta/Archive</path>${rev('currentRevision', { n: 1, state: 'COMPLETED', size: 1, md5: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' })}</file>`;

// §9.1
const errorDoc = `<?xml version="1.0" encoding="UTF-8"?><error><code>404</code><message>no.jotta.backup.errors.NoSuchFileException: File /u1/Jotta/Archive/x does not exist</message><reason>Not Found</reason><cause></cause><hostname>dn-125</hostname><x-id>311257289867</x-id></error>`;

// §10
const userDoc = `<?xml version="1.0" encoding="UTF-8"?><user time="2018-07-24-T20:41:37Z" host="dn-158"><username>2940e57271a93d987d6f8a21</username><account-type>unlimited</account-type><locked>false</locked><capacity>-1</capacity><max-devices>-1</max-devices><max-mobile-devices>-1</max-mobile-devices><usage>123456789</usage><read-locked>false</read-locked><write-locked>false</write-locked><quota-write-locked>false</quota-write-locked><enable-sync>true</enable-sync><enable-foldershare>true</enable-foldershare><devices><device><name xml:space="preserve">Jotta</name><display_name xml:space="preserve">Jotta</display_name><type>JOTTA</type><sid>ee93a510-907a-4d7c-bbb9-59df7894c254</sid><size>58428</size><modified>2018-07-15-T22:04:59Z</modified></device></devices></user>`;

function asFolder(n: JfsNode): JfsFolder {
  if (n.kind === 'file') throw new Error('expected a folder');
  return n;
}

describe('JFS XML (§4.2)', () => {
  it("parses the spec's folder listing: subfolders, trashed subfolders, files with revisions", () => {
    const f = asFolder(parseJfsNode(folderListing));
    expect(f).toMatchObject({ kind: 'folder', name: 'docs', deleted: false });
    expect(f.folders).toEqual([
      { name: 'sub', deleted: false, modified: undefined },
      { name: 'old', deleted: true, modified: undefined },
    ]);
    expect(f.files).toHaveLength(1);
    expect(f.files[0]).toMatchObject({
      name: 'a.txt',
      deleted: false,
      currentRevision: { number: 2, state: 'COMPLETED', size: 5, md5: '5d41402abc4b2a76b9719d911017c592', modified: t('2024-05-01T08:19:09Z'), updated: t('2024-05-01T08:34:40Z'), mime: 'text/plain' },
    });
    expect(isVisibleFile(f.files[0])).toBe(true);
  });

  it('applies the listing rules of §4.3 to trashed, incomplete and corrupt revisions', () => {
    const mp = asFolder(parseJfsNode(mountPoint));
    expect(mp).toMatchObject({ kind: 'mountPoint', name: 'Archive', deleted: false, modified: t('2018-07-24T20:41:37Z') });
    expect(mp.folders.map((f) => f.name)).toEqual(['Fish & Chips <1>']);
    const visible = mp.files.filter(isVisibleFile).map((f) => [f.name, f.currentRevision.size, f.currentRevision.md5]);
    expect(visible).toEqual([
      ['done.bin', 10, 'aabbccddeeff00112233445566778899'], // upper-case md5 read case-insensitively
      ['old-shown-new-running.bin', 7, '22222222222222222222222222222222'], // the old content, not the INCOMPLETE one
      ['old-shown-new-corrupt.bin', 8, '44444444444444444444444444444444'], // the old content, not the CORRUPT one
      ['empty-modified.bin', 0, 'd41d8cd98f00b204e9800998ecf8427e'],
    ]);
    const byName = new Map(mp.files.map((f) => [f.name, f]));
    expect(byName.get('first-upload-running.bin')).toMatchObject({ currentRevision: undefined, latestRevision: { state: 'INCOMPLETE', size: undefined } });
    expect(byName.get('first-upload-corrupt.bin')?.latestRevision).toMatchObject({ state: 'CORRUPT', size: undefined, md5: '11111111111111111111111111111111' });
    expect(byName.get('trashed.bin')?.deleted).toBe(true);
    // `<modified></modified>` is the zero time (rclone types_test.go).
    expect(byName.get('empty-modified.bin')?.currentRevision?.modified).toBe(0);
  });

  it('parses a stat with history and an INCOMPLETE latest revision holding its received size', () => {
    const n = parseJfsNode(fileStat);
    if (n.kind !== 'file') throw new Error('expected a file');
    expect(n.file.currentRevision).toMatchObject({ number: 3, size: 300 });
    expect(n.file.latestRevision).toMatchObject({ number: 4, state: 'INCOMPLETE', size: 120, updated: t('2017-03-04T08:44:05Z') });
    expect(n.file.revisions.map((r) => r.number)).toEqual([2, 1]);
    expect(isVisibleFile(n.file)).toBe(true);
  });

  it('treats a trashed file as invisible', () => {
    const n = parseJfsNode(fileDeleted);
    if (n.kind !== 'file') throw new Error('expected a file');
    expect(n.file.deleted).toBe(true);
    expect(isVisibleFile(n.file)).toBe(false);
  });

  it('parses the error document (§9.1) and the exception class', () => {
    expect(parseJfsError(errorDoc)).toEqual({
      code: 404,
      message: 'no.jotta.backup.errors.NoSuchFileException: File /u1/Jotta/Archive/x does not exist',
      reason: 'Not Found',
      exception: 'no.jotta.backup.errors.NoSuchFileException',
    });
    expect(parseJfsError('{"code":404}')).toBeUndefined();
    expect(parseJfsError('<folder name="x"/>')).toBeUndefined();
    expect(parseJfsError('<error><code>401</code><message>Token mismatch!</message></error>')?.exception).toBeUndefined();
  });

  it('parses the user document (§10): capacity -1 is unlimited', () => {
    expect(parseJfsUser(userDoc)).toEqual({ username: '2940e57271a93d987d6f8a21', accountType: 'unlimited', capacity: -1, usage: 123456789, writeLocked: false });
  });

  it('refuses documents that are not what they claim', () => {
    expect(() => parseJfsNode('<user/>')).toThrow(WireError);
    expect(() => parseJfsNode('<folder name="x">')).toThrow(WireError);
    expect(() => parseJfsNode(folderListing.replace('2024-05-01-T08:19:09Z', 'yesterday'))).toThrow(/not a Jottacloud time/);
    expect(() => parseJfsUser(userDoc.replace('<usage>123456789', '<usage>lots'))).toThrow(/usage is not an integer/);
  });
});

describe('mode=liststream (§4.4)', () => {
  const stream = `<?xml version="1.0" encoding="UTF-8"?>
<filestream><folder><path>/Archive/docs</path></folder>
<file><path>/Archive/docs</path><filename>a &amp; b.txt</filename><md5>5D41402ABC4B2A76B9719D911017C592</md5><size>5</size><modified>2024-05-01T08:19:09.000Z</modified><created>2024-05-01T08:19:09.000Z</created></file>
<folder><path>/Archive/docs/sub</path></folder>
<stats><folders>2</folders><files>1</files></stats></filestream>`;

  it('streams children of the root one by one, whatever the chunk boundaries', () => {
    const bytes = Buffer.from(stream.replace('a &amp; b', 'ø 🚢 b'));
    for (const size of [1, 2, 3, 7, 64, bytes.length]) {
      const items: unknown[] = [];
      const p = new XmlStream({ select: ['*', '*'], onElement: (el) => items.push(parseListStreamChild(el)) });
      for (let i = 0; i < bytes.length; i += size) p.write(bytes.subarray(i, i + size));
      const root = p.end();
      expect(root.name).toBe('filestream');
      expect(root.children).toEqual([]); // not retained: memory stays flat
      expect(items).toEqual([
        { kind: 'folder', path: '/Archive/docs' },
        { kind: 'file', parentPath: '/Archive/docs', name: 'ø 🚢 b.txt', md5: '5d41402abc4b2a76b9719d911017c592', size: 5, modified: t('2024-05-01T08:19:09Z'), created: t('2024-05-01T08:19:09Z') },
        { kind: 'folder', path: '/Archive/docs/sub' },
        { kind: 'stats', folders: 2, files: 1 },
      ]);
    }
  });

  it('fails on a truncated stream', () => {
    const p = new XmlStream({ select: ['*', '*'], onElement: () => {} });
    p.write(stream.slice(0, stream.indexOf('<stats>')));
    expect(() => p.end()).toThrow(XmlError);
  });
});

describe('times (§8)', () => {
  it('reads the Jotta format with Z or +hhmm, and the empty zero time', () => {
    expect(parseJottaTime('2018-07-24-T20:41:37Z')).toBe(t('2018-07-24T20:41:37Z'));
    expect(parseJottaTime('2018-07-24-T22:41:37+0200')).toBe(t('2018-07-24T20:41:37Z'));
    expect(parseJottaTime('')).toBe(0);
    expect(parseJottaTime(undefined)).toBe(0);
    expect(parseJottaTime('24.07.2018')).toBeUndefined();
  });

  it('writes the Jotta format and RFC 3339 for allocate, truncated to the second', () => {
    expect(formatJottaTime(t('2024-05-01T08:19:09.999Z'))).toBe('2024-05-01-T08:19:09Z');
    expect(formatAllocateTime(1_600_000_000_999)).toBe('2020-09-13T12:26:40Z');
  });
});
