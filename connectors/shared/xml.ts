/**
 * Reading XML answers (JFS today; WebDAV multistatus and S3 listings next) on saxes, a strict,
 * streaming, namespace-aware parser. Two ways in:
 *
 *   - `parseXml(doc)`: a small document as a tree of `XmlElement`;
 *   - `XmlStream`: a long document fed chunk by chunk; each element at the selected path is handed
 *     to `onElement` once complete and then dropped, so memory stays flat however long the
 *     listing (Jottacloud's liststream of a whole tree, a WebDAV Depth: infinity PROPFIND).
 *
 * Elements are matched by local name, so `D:response` and `d:response` are both `response`; the
 * namespace URI is there for providers that need to tell `DAV:` from their own. No DTD entity is
 * ever expanded (saxes reports an undefined entity as an error), so no entity-expansion attack applies.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';

export interface XmlElement {
  /** The name as written, prefix included: `D:href`. */
  name: string;
  /** The name without its prefix: `href`. */
  local: string;
  /** The namespace URI, '' when none is in scope. */
  uri: string;
  /** Attribute values by name as written (`xml:space`, `name`). */
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The text directly inside this element, CDATA included, entities decoded. */
  text: string;
}

export class XmlError extends Error {
  override name = 'XmlError';
}

/** Deeper nesting than this, or more text in one element, is refused rather than buffered without end. */
const MAX_DEPTH = 256;
const MAX_TEXT = 16 * 1024 * 1024;

export interface XmlStreamOptions {
  /**
   * Local names from the root down to the elements to hand out, `*` for any name: `['*', '*']`
   * is every child of the root, `['multistatus', 'response']` WebDAV's responses.
   */
  select: readonly string[];
  onElement(el: XmlElement): void;
}

export class XmlStream {
  private readonly parser = new SaxesParser({ xmlns: true });
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly stack: XmlElement[] = [];
  private root: XmlElement | undefined;
  /** The first failure, thrown again by every later call: an XmlError, or what `onElement` threw, unchanged. */
  private failure: unknown;

  constructor(private readonly opts: XmlStreamOptions) {
    const p = this.parser;
    p.on('error', (err) => {
      this.failure ??= new XmlError(err.message);
    });
    p.on('opentag', (tag) => this.open(tag));
    p.on('closetag', () => this.close());
    p.on('text', (t) => this.text(t));
    p.on('cdata', (t) => this.text(t));
  }

  write(chunk: Uint8Array | string): void {
    this.guard(() => this.parser.write(typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true })));
  }

  /** Ends the document and returns its root (without the elements handed out); throws when it is truncated or empty. */
  end(): XmlElement {
    this.guard(() => {
      this.parser.write(this.decoder.decode());
      this.parser.close();
    });
    if (!this.root) throw new XmlError('the XML document is empty');
    return this.root;
  }

  private guard(fn: () => void): void {
    if (this.failure) throw this.failure;
    try {
      fn();
    } catch (err) {
      // A bad byte sequence from the decoder; saxes itself reports through its error event.
      this.failure ??= err instanceof XmlError ? err : new XmlError(err instanceof Error ? err.message : String(err));
    }
    if (this.failure) throw this.failure;
  }

  private selected(): boolean {
    const { select } = this.opts;
    if (this.stack.length !== select.length) return false;
    return this.stack.every((el, i) => select[i] === '*' || select[i] === el.local);
  }

  private open(tag: SaxesTagNS): void {
    if (this.stack.length >= MAX_DEPTH) throw (this.failure ??= new XmlError('the XML document nests too deeply'));
    const attrs: Record<string, string> = {};
    for (const [name, a] of Object.entries(tag.attributes)) attrs[name] = a.value;
    const el: XmlElement = { name: tag.name, local: tag.local, uri: tag.uri, attrs, children: [], text: '' };
    const parent = this.stack[this.stack.length - 1];
    if (!parent) this.root = el;
    this.stack.push(el);
    // Selected elements are handed out, not kept in their parent.
    if (parent && !this.selected()) parent.children.push(el);
  }

  private close(): void {
    const wasSelected = this.selected();
    const el = this.stack.pop() as XmlElement;
    if (!wasSelected) return;
    try {
      this.opts.onElement(el);
    } catch (err) {
      this.failure ??= err;
      throw err;
    }
  }

  private text(t: string): void {
    const el = this.stack[this.stack.length - 1];
    // Whitespace between elements is not text anyone asked for; outside the root saxes checks it.
    if (!el) return;
    if (el.text.length + t.length > MAX_TEXT) throw (this.failure ??= new XmlError(`<${el.name}> holds more than ${MAX_TEXT} characters of text`));
    el.text += t;
  }
}

/** Parses a whole (small) document into its root element. */
export function parseXml(doc: string | Uint8Array): XmlElement {
  const stream = new XmlStream({ select: [], onElement: () => {} });
  stream.write(doc);
  return stream.end();
}

/** The first child with this local name. */
export function child(el: XmlElement | undefined, local: string): XmlElement | undefined {
  return el?.children.find((c) => c.local === local);
}

export function childrenNamed(el: XmlElement | undefined, local: string): XmlElement[] {
  return el ? el.children.filter((c) => c.local === local) : [];
}

/** Text of a direct child, or undefined when the child is absent. */
export function childText(el: XmlElement | undefined, local: string): string | undefined {
  return child(el, local)?.text;
}
