/**
 * A small dependency-free XML reader for the JFS subset (no fast-xml-parser or sax in
 * node_modules, and package.json is not ours to change). It handles what JFS documents contain
 * (shared/specs/jottacloud-api.md §4.2, §4.4, §9.1, §10): the prolog, elements, attributes in
 * either quote, self-closing tags, text with the five predefined entities and character
 * references, CDATA and comments. It does not expand DTD entities (a DOCTYPE is skipped, never
 * interpreted, so no entity-expansion attack applies) and does not check namespaces:
 * `xml:space="preserve"` is an ordinary attribute.
 *
 * Push-based and incremental: `write()` any chunk boundary (bytes are decoded as streaming UTF-8),
 * so the `mode=liststream` document of a whole tree is parsed as it arrives.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The concatenated text directly inside this element (entities decoded). */
  text: string;
}

export class XmlError extends Error {
  override name = 'XmlError';
}

export interface XmlHandler {
  open(name: string, attrs: Record<string, string>): void;
  close(name: string): void;
  text(text: string): void;
}

const MAX_DEPTH = 256;
/** A single tag or text run longer than this is refused rather than buffered without end. */
const MAX_TOKEN = 16 * 1024 * 1024;

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);/g, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[ref] ?? whole;
  });
}

const ATTR = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function parseAttrs(s: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  ATTR.lastIndex = 0;
  for (let m = ATTR.exec(s); m; m = ATTR.exec(s)) attrs[m[1]] = decodeEntities(m[2] ?? m[3] ?? '');
  return attrs;
}

/** Index of the `>` ending a start or end tag that begins at `from`, skipping quoted attribute values. */
function tagEnd(buf: string, from: number): number {
  let quote = '';
  for (let i = from; i < buf.length; i++) {
    const c = buf[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return i;
  }
  return -1;
}

export class XmlTokenizer {
  private buf = '';
  private readonly decoder = new TextDecoder('utf-8');
  private readonly stack: string[] = [];
  private sawRoot = false;

  constructor(private readonly handler: XmlHandler) {}

  write(chunk: Uint8Array | string): void {
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    this.drain(false);
  }

  /** Ends the document; throws when it is truncated. */
  end(): void {
    this.buf += this.decoder.decode();
    this.drain(true);
    if (this.stack.length) throw new XmlError(`the XML document ended inside <${this.stack[this.stack.length - 1]}>`);
    if (!this.sawRoot) throw new XmlError('the XML document is empty');
  }

  private drain(final: boolean): void {
    let pos = 0;
    const buf = this.buf;
    try {
      while (pos < buf.length) {
        if (buf[pos] !== '<') {
          const lt = buf.indexOf('<', pos);
          if (lt < 0 && !final) break;
          const end = lt < 0 ? buf.length : lt;
          this.onText(buf.slice(pos, end));
          pos = end;
          continue;
        }
        if (buf.startsWith('<!--', pos)) {
          const end = buf.indexOf('-->', pos + 4);
          if (end < 0) break;
          pos = end + 3;
        } else if (buf.startsWith('<![CDATA[', pos)) {
          const end = buf.indexOf(']]>', pos + 9);
          if (end < 0) break;
          if (!this.stack.length) throw new XmlError('CDATA outside the root element');
          this.handler.text(buf.slice(pos + 9, end));
          pos = end + 3;
        } else if (buf.startsWith('<?', pos)) {
          const end = buf.indexOf('?>', pos + 2);
          if (end < 0) break;
          pos = end + 2;
        } else if (buf.startsWith('<!', pos)) {
          // DOCTYPE or another declaration: skipped, never interpreted.
          const end = tagEnd(buf, pos + 2);
          if (end < 0) break;
          pos = end + 1;
        } else if (buf[pos + 1] === '/') {
          const end = buf.indexOf('>', pos + 2);
          if (end < 0) break;
          this.onClose(buf.slice(pos + 2, end).trim());
          pos = end + 1;
        } else {
          if (pos + 1 >= buf.length) break;
          const end = tagEnd(buf, pos + 1);
          if (end < 0) break;
          this.onOpen(buf.slice(pos + 1, end));
          pos = end + 1;
        }
      }
    } finally {
      this.buf = buf.slice(pos);
    }
    if (final && this.buf.length) throw new XmlError(`the XML document ends in an unfinished tag: ${JSON.stringify(this.buf.slice(0, 40))}`);
    if (this.buf.length > MAX_TOKEN) throw new XmlError('an XML token is too long');
  }

  private onText(raw: string): void {
    if (!this.stack.length) {
      if (raw.trim()) throw new XmlError(`text outside the root element: ${JSON.stringify(raw.trim().slice(0, 40))}`);
      return;
    }
    this.handler.text(decodeEntities(raw));
  }

  private onOpen(inner: string): void {
    const selfClosing = inner.endsWith('/');
    const body = selfClosing ? inner.slice(0, -1) : inner;
    const m = /^([^\s/>]+)/.exec(body);
    if (!m) throw new XmlError(`a malformed tag: <${inner.slice(0, 40)}>`);
    const name = m[1];
    if (!this.stack.length) {
      if (this.sawRoot) throw new XmlError(`a second root element <${name}>`);
      this.sawRoot = true;
    }
    if (this.stack.length >= MAX_DEPTH) throw new XmlError('the XML document nests too deeply');
    this.handler.open(name, parseAttrs(body.slice(name.length)));
    if (selfClosing) this.handler.close(name);
    else this.stack.push(name);
  }

  private onClose(name: string): void {
    const open = this.stack.pop();
    if (open !== name) throw new XmlError(`</${name}> does not close <${open ?? '(nothing)'}>`);
    this.handler.close(name);
  }
}

/** Builds elements; `onChild` (when given) receives each child of the root as it completes, and it is not kept. */
class TreeBuilder implements XmlHandler {
  root: XmlElement | undefined;
  private readonly stack: XmlElement[] = [];

  constructor(private readonly onRootChild?: (el: XmlElement, root: XmlElement) => void) {}

  open(name: string, attrs: Record<string, string>): void {
    const el: XmlElement = { name, attrs, children: [], text: '' };
    const parent = this.stack[this.stack.length - 1];
    if (!parent) this.root = el;
    else if (!(this.onRootChild && this.stack.length === 1)) parent.children.push(el);
    this.stack.push(el);
  }

  close(): void {
    const el = this.stack.pop() as XmlElement;
    if (this.onRootChild && this.stack.length === 1) this.onRootChild(el, this.stack[0]);
  }

  text(text: string): void {
    this.stack[this.stack.length - 1].text += text;
  }
}

/** Parses a whole document into its root element. */
export function parseXml(doc: string | Uint8Array): XmlElement {
  const builder = new TreeBuilder();
  const t = new XmlTokenizer(builder);
  t.write(doc);
  t.end();
  return builder.root as XmlElement;
}

/**
 * Incremental parse of a long document whose root holds many small children (liststream): each
 * completed child of the root goes to `onChild` and is not retained, so memory stays flat.
 */
export class XmlChildStream {
  private readonly builder: TreeBuilder;
  private readonly tokenizer: XmlTokenizer;

  constructor(onChild: (el: XmlElement, root: XmlElement) => void) {
    this.builder = new TreeBuilder(onChild);
    this.tokenizer = new XmlTokenizer(this.builder);
  }

  write(chunk: Uint8Array | string): void {
    this.tokenizer.write(chunk);
  }

  end(): XmlElement {
    this.tokenizer.end();
    return this.builder.root as XmlElement;
  }
}

export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

export function childrenNamed(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** Text of a direct child, or undefined when the child is absent. */
export function childText(el: XmlElement | undefined, name: string): string | undefined {
  return child(el, name)?.text;
}
