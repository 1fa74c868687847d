/**
 * The XML of the DAV surface: reading PROPFIND/PROPPATCH bodies (saxes directly, not the
 * connector's parser, so the two sides do not share a bug) and writing multistatus answers and
 * Sabre's error documents the way Nextcloud prints them.
 */
import { SaxesParser } from 'saxes';

export const NS = { d: 'DAV:', oc: 'http://owncloud.org/ns', nc: 'http://nextcloud.org/ns', s: 'http://sabredav.org/ns' } as const;

/** Clark notation `{uri}local`, as Sabre names properties. */
export type Clark = string;

export interface El {
  uri: string;
  local: string;
  children: El[];
  text: string;
}

export function parse(doc: string): El {
  const p = new SaxesParser({ xmlns: true });
  const stack: El[] = [];
  let root: El | undefined;
  let err: Error | undefined;
  p.on('error', (e) => {
    err ??= e;
  });
  p.on('opentag', (t) => {
    const el: El = { uri: t.uri ?? '', local: t.local ?? t.name, children: [], text: '' };
    stack.at(-1)?.children.push(el);
    stack.push(el);
    root ??= el;
  });
  p.on('text', (t) => {
    const top = stack.at(-1);
    if (top) top.text += t;
  });
  p.on('cdata', (t) => {
    const top = stack.at(-1);
    if (top) top.text += t;
  });
  p.on('closetag', () => {
    stack.pop();
  });
  p.write(doc).close();
  if (err) throw err;
  if (!root) throw new Error('empty document');
  return root;
}

export const clark = (el: El): Clark => `{${el.uri}}${el.local}`;

/** What a PROPFIND asks for: every live property (`allprop`, or an empty body) or a list. */
export type PropRequest = { all: true } | { all: false; names: Clark[]; namesOnly?: boolean };

export function parsePropfind(body: string): PropRequest {
  if (!body.trim()) return { all: true };
  const root = parse(body);
  if (root.uri !== NS.d || root.local !== 'propfind') throw new Error('the body must be a DAV: propfind element');
  for (const c of root.children) {
    if (c.uri === NS.d && c.local === 'allprop') return { all: true };
    if (c.uri === NS.d && c.local === 'propname') return { all: false, names: [], namesOnly: true };
    if (c.uri === NS.d && c.local === 'prop') return { all: false, names: c.children.map(clark) };
  }
  return { all: true };
}

export interface PropPatch {
  set: { name: Clark; value: string }[];
  remove: Clark[];
}

export function parseProppatch(body: string): PropPatch {
  const root = parse(body);
  if (root.uri !== NS.d || root.local !== 'propertyupdate') throw new Error('the body must be a DAV: propertyupdate element');
  const out: PropPatch = { set: [], remove: [] };
  for (const c of root.children) {
    const prop = c.children.find((x) => x.uri === NS.d && x.local === 'prop');
    if (!prop) continue;
    for (const p of prop.children) {
      if (c.uri === NS.d && c.local === 'set') out.set.push({ name: clark(p), value: textOf(p) });
      if (c.uri === NS.d && c.local === 'remove') out.remove.push(clark(p));
    }
  }
  return out;
}

/** A property's text, nested elements' text included (oc:checksums > oc:checksum). */
function textOf(el: El): string {
  return [el.text, ...el.children.map(textOf)].filter((s) => s.trim()).join(' ').trim();
}

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const PREFIX: Record<string, string> = { [NS.d]: 'd', [NS.oc]: 'oc', [NS.nc]: 'nc', [NS.s]: 's' };

/** `{uri}local` as an element name; unknown namespaces get their own xmlns declaration. */
export function qname(c: Clark): { open: string; close: string } {
  const m = /^\{([^}]*)\}(.*)$/.exec(c);
  const uri = m ? m[1] : '';
  const local = m ? m[2] : c;
  const pre = PREFIX[uri];
  if (pre) return { open: `${pre}:${local}`, close: `${pre}:${local}` };
  return { open: `x1:${local} xmlns:x1="${esc(uri)}"`, close: `x1:${local}` };
}

/** A property's value as inner XML (already escaped); empty string = empty element. */
export type PropValues = Map<Clark, string>;

export interface ResponseEntry {
  href: string;
  found: PropValues;
  missing: Clark[];
  /** PROPPATCH answers: properties refused with 403. */
  forbidden?: Clark[];
  /** PROPPATCH answers: properties not applied because another one was refused (424). */
  failedDependency?: Clark[];
}

export function multistatus(entries: ResponseEntry[]): string {
  const out: string[] = [
    `<?xml version="1.0"?>\n<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">`,
  ];
  for (const e of entries) {
    out.push(`<d:response><d:href>${esc(e.href)}</d:href>`);
    if (e.found.size > 0) {
      out.push('<d:propstat><d:prop>');
      for (const [name, value] of e.found) {
        const q = qname(name);
        out.push(value === '' ? `<${q.open}/>` : `<${q.open}>${value}</${q.close}>`);
      }
      out.push('</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>');
    }
    for (const [names, status] of [
      [e.forbidden ?? [], 'HTTP/1.1 403 Forbidden'],
      [e.failedDependency ?? [], 'HTTP/1.1 424 Failed Dependency'],
      [e.missing, 'HTTP/1.1 404 Not Found'],
    ] as const) {
      if (names.length === 0) continue;
      out.push('<d:propstat><d:prop>');
      for (const n of names) out.push(`<${qname(n).open}/>`);
      out.push(`</d:prop><d:status>${status}</d:status></d:propstat>`);
    }
    out.push('</d:response>');
  }
  out.push('</d:multistatus>');
  return out.join('\n');
}

/** Sabre's error document, e.g. `Sabre\DAV\Exception\NotFound` + a message. */
export function sabreError(exception: string, message: string, hint?: string): string {
  const oc = hint === undefined ? '' : ' xmlns:o="http://owncloud.org/ns"';
  return (
    `<?xml version="1.0" encoding="utf-8"?>\n<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"${oc}>\n` +
    `  <s:exception>${esc(exception)}</s:exception>\n  <s:message>${esc(message)}</s:message>\n` +
    (hint === undefined ? '' : `  <o:hint>${esc(hint)}</o:hint>\n`) +
    `</d:error>\n`
  );
}
