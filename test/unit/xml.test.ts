import { describe, expect, it } from 'vitest';
import { child, childText, parseXml, XmlError, XmlStream, type XmlElement } from '../../connectors/shared/xml.js';

describe('the shared XML reader', () => {
  it('decodes entities, character references and CDATA, and skips comments, PIs and a DOCTYPE', () => {
    const el = parseXml(`<?xml version="1.0"?><!DOCTYPE x><!-- hi --><r a='1 &quot;q&quot;' b="x>y"><t>&lt;&amp;&gt;&#65;&#x42;&apos;&#128674;</t><c><![CDATA[<raw & stuff>]]></c><e/></r>`);
    expect(el.attrs).toEqual({ a: '1 "q"', b: 'x>y' });
    const [t, c, e] = el.children as [XmlElement, XmlElement, XmlElement];
    expect(t.text).toBe("<&>AB'🚢");
    expect(c.text).toBe('<raw & stuff>');
    expect(e).toEqual({ name: 'e', local: 'e', uri: '', attrs: {}, children: [], text: '' });
  });

  it('refuses malformed XML, undefined entities and invalid UTF-8', () => {
    for (const bad of ['', '<a></b>', '<a>', 'text<a/>', '<a/><b/>', '<a x="1></a>', '<a>&unknown;</a>', '<!DOCTYPE a [<!ENTITY e "boom">]><a>&e;</a>']) {
      expect(() => parseXml(bad), bad).toThrow(XmlError);
    }
    expect(() => parseXml(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e]))).toThrow(XmlError);
  });

  it('resolves namespaces, so a WebDAV answer reads the same whatever its prefix', () => {
    for (const prefix of ['D', 'd', 'lp1']) {
      const doc = `<${prefix}:multistatus xmlns:${prefix}="DAV:"><${prefix}:response><${prefix}:href>/a%20b</${prefix}:href></${prefix}:response></${prefix}:multistatus>`;
      const root = parseXml(doc);
      expect(root).toMatchObject({ local: 'multistatus', uri: 'DAV:', name: `${prefix}:multistatus` });
      expect(childText(child(root, 'response'), 'href')).toBe('/a%20b');
    }
    const s3 = parseXml('<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name></ListBucketResult>');
    expect(s3).toMatchObject({ local: 'ListBucketResult', uri: 'http://s3.amazonaws.com/doc/2006-03-01/' });
    expect(child(s3, 'Name')?.uri).toBe('http://s3.amazonaws.com/doc/2006-03-01/');
  });

  it('streams the selected elements one by one, at any chunk boundary, and keeps none of them', () => {
    const doc = Buffer.from(
      '<D:multistatus xmlns:D="DAV:"><D:response><D:href>/ø</D:href></D:response><D:response><D:href>/🚢</D:href></D:response><D:sync-token>7</D:sync-token></D:multistatus>',
    );
    for (const size of [1, 2, 5, doc.length]) {
      const hrefs: string[] = [];
      const s = new XmlStream({ select: ['multistatus', 'response'], onElement: (el) => hrefs.push(childText(el, 'href') ?? '') });
      for (let i = 0; i < doc.length; i += size) s.write(doc.subarray(i, i + size));
      const root = s.end();
      expect(hrefs).toEqual(['/ø', '/🚢']);
      expect(root.children.map((c) => c.local)).toEqual(['sync-token']);
    }
  });

  it("passes on what the element handler throws, unchanged, and stops there", () => {
    class Mine extends Error {}
    const s = new XmlStream({ select: ['*', '*'], onElement: () => {
      throw new Mine('no');
    } });
    expect(() => s.write('<r><a/><b/>')).toThrow(Mine);
    expect(() => s.write('</r>')).toThrow(Mine);
  });

  it('fails on a truncated stream', () => {
    const s = new XmlStream({ select: ['*', '*'], onElement: () => {} });
    s.write('<r><a>1</a><b>');
    expect(() => s.end()).toThrow(XmlError);
  });
});
