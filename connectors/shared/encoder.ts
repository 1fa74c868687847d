/**
 * Reversible encoding of names a provider cannot store, driven by the name rules a connector
 * declares (`Capabilities.nameRules`). The model is rclone's lib/encoder, and the substitutes are
 * its substitutes, so a tree written by knarr reads the same in rclone and the other way round:
 *
 *   - a forbidden ASCII character becomes its FULLWIDTH look-alike (`?` → `？`, `%` → `％`);
 *   - control characters become the SYMBOL FOR block (`\x01` → `␁`), DEL becomes `␡`;
 *   - the names `.` and `..`, and leading/trailing spaces or dots, become `．`/`␠`;
 *   - a name that already contains one of those substitutes gets the quote rune `‛` before it, so
 *     decoding gives back exactly what the user had.
 *
 * Encoding is per path segment; `/` never appears inside a segment in core/paths.ts form.
 * A name whose encoding is longer than the provider allows is the caller's `invalid_name`.
 */
import type { NameRules } from '../types.js';


export interface NameEncoder {
  /** A user's name as the provider stores it. */
  encode(name: string): string;
  /** A stored name as the user sees it. */
  decode(name: string): string;
  /** `encode` on each `/`-separated segment. */
  encodePath(path: string): string;
  decodePath(path: string): string;
  /** True when names pass through unchanged (no rule declared). */
  readonly identity: boolean;
}

/** rclone's QuoteRune: marks a substitute that was in the name before encoding. */
const QUOTE = '\u201B';
const FULLWIDTH_OFFSET = 0xfee0;
const SYMBOL_NULL = 0x2400;
/** rclone's substitute for NUL (which core/paths.ts refuses): quoted wherever it appears, as rclone does. */
const SYMBOL_NUL = '\u2400';
const SYMBOL_SPACE = '\u2420';
const SYMBOL_DEL = '\u2421';
const FULLWIDTH_DOT = '\uFF0E';
const FULLWIDTH_TILDE = '\uFF5E';

const fullwidth = (c: string): string => String.fromCharCode(c.charCodeAt(0) + FULLWIDTH_OFFSET);

export function nameEncoder(rules: NameRules = {}): NameEncoder {
  /** Raw character → substitute, for characters replaced wherever they appear. */
  const anywhere = new Map<string, string>();
  for (const c of rules.forbiddenChars ?? '') {
    const code = c.charCodeAt(0);
    if (code <= 0x20 || code >= 0x7f || c === '/') throw new RangeError(`forbiddenChars holds printable ASCII other than "/" and space, not ${JSON.stringify(c)}`);
    anywhere.set(c, fullwidth(c));
  }
  if (rules.controlChars) {
    for (let code = 1; code <= 0x1f; code++) anywhere.set(String.fromCharCode(code), String.fromCharCode(SYMBOL_NULL + code));
    anywhere.set('\x7f', SYMBOL_DEL);
  }
  if (rules.del) anywhere.set('\x7f', SYMBOL_DEL);
  const substitutes = new Map<string, string>([...anywhere].map(([raw, sub]) => [sub, raw]));
  const edgeSubs = new Set<string>();
  if (rules.leadingSpace || rules.trailingSpace) edgeSubs.add(SYMBOL_SPACE);
  if (rules.leadingDot || rules.trailingDot || rules.dotNames) edgeSubs.add(FULLWIDTH_DOT);
  if (rules.leadingTilde) edgeSubs.add(FULLWIDTH_TILDE);
  const identity = anywhere.size === 0 && edgeSubs.size === 0 && !rules.invalidUnicode;

  function encode(name: string): string {
    if (identity || name === '') return name;
    if (rules.dotNames) {
      if (name === '.') return FULLWIDTH_DOT;
      if (name === '..') return FULLWIDTH_DOT + FULLWIDTH_DOT;
      if (name === FULLWIDTH_DOT) return QUOTE + FULLWIDTH_DOT;
      if (name === FULLWIDTH_DOT + FULLWIDTH_DOT) return QUOTE + FULLWIDTH_DOT + QUOTE + FULLWIDTH_DOT;
    }
    let prefix = '';
    let suffix = '';
    let body = name;
    // One edge substitution per end, as rclone: a name "  x" keeps its second space.
    if (rules.leadingSpace && body[0] === ' ') [prefix, body] = [SYMBOL_SPACE, body.slice(1)];
    else if (rules.leadingSpace && body[0] === SYMBOL_SPACE) [prefix, body] = [QUOTE + SYMBOL_SPACE, body.slice(1)];
    else if (rules.leadingDot && body[0] === '.') [prefix, body] = [FULLWIDTH_DOT, body.slice(1)];
    else if (rules.leadingDot && body[0] === FULLWIDTH_DOT) [prefix, body] = [QUOTE + FULLWIDTH_DOT, body.slice(1)];
    else if (rules.leadingTilde && body[0] === '~') [prefix, body] = [FULLWIDTH_TILDE, body.slice(1)];
    else if (rules.leadingTilde && body[0] === FULLWIDTH_TILDE) [prefix, body] = [QUOTE + FULLWIDTH_TILDE, body.slice(1)];
    const last = body[body.length - 1];
    if (body !== '') {
      if (rules.trailingSpace && last === ' ') [suffix, body] = [SYMBOL_SPACE, body.slice(0, -1)];
      else if (rules.trailingSpace && last === SYMBOL_SPACE) [suffix, body] = [QUOTE + SYMBOL_SPACE, body.slice(0, -1)];
      else if (rules.trailingDot && last === '.') [suffix, body] = [FULLWIDTH_DOT, body.slice(0, -1)];
      else if (rules.trailingDot && last === FULLWIDTH_DOT) [suffix, body] = [QUOTE + FULLWIDTH_DOT, body.slice(0, -1)];
    }
    let out = '';
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      const sub = anywhere.get(c);
      if (sub !== undefined) out += sub;
      else if (c === QUOTE || c === SYMBOL_NUL || substitutes.has(c)) out += QUOTE + c;
      else if (rules.invalidUnicode && isLoneSurrogate(body, i)) out += QUOTE + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      else {
        out += c;
        // A valid surrogate pair is copied whole.
        if (isHighSurrogate(c) && i + 1 < body.length) out += body[++i];
      }
    }
    return prefix + out + suffix;
  }

  function decode(name: string): string {
    if (identity || name === '') return name;
    if (rules.dotNames) {
      if (name === FULLWIDTH_DOT) return '.';
      if (name === FULLWIDTH_DOT + FULLWIDTH_DOT) return '..';
      if (name === QUOTE + FULLWIDTH_DOT) return FULLWIDTH_DOT;
      if (name === QUOTE + FULLWIDTH_DOT + QUOTE + FULLWIDTH_DOT) return FULLWIDTH_DOT + FULLWIDTH_DOT;
    }
    // Tokens first: whether a character was quoted decides what it means, at the edges too.
    const tokens: { c: string; quoted: boolean }[] = [];
    for (let i = 0; i < name.length; i++) {
      const c = name[i];
      if (c !== QUOTE || i + 1 === name.length) {
        tokens.push({ c, quoted: false });
        continue;
      }
      const hex = rules.invalidUnicode ? /^[0-9A-F]{4}/.exec(name.slice(i + 1, i + 5)) : null;
      const code = hex ? parseInt(hex[0], 16) : NaN;
      if (code >= 0xd800 && code <= 0xdfff) {
        tokens.push({ c: String.fromCharCode(code), quoted: true });
        i += 4;
      } else {
        tokens.push({ c: name[++i], quoted: true });
      }
    }
    const edge = (t: { c: string; quoted: boolean }, space: boolean | undefined, dot: boolean | undefined, tilde?: boolean): string | undefined => {
      if (t.quoted) return undefined;
      if (space && t.c === SYMBOL_SPACE) return ' ';
      if (dot && t.c === FULLWIDTH_DOT) return '.';
      if (tilde && t.c === FULLWIDTH_TILDE) return '~';
      return undefined;
    };
    let out = '';
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      const atEdge =
        (i === 0 ? edge(t, rules.leadingSpace, rules.leadingDot, rules.leadingTilde) : undefined) ??
        (i === tokens.length - 1 && i > 0 ? edge(t, rules.trailingSpace, rules.trailingDot) : undefined) ??
        // A one-character name took its substitute as a prefix when a leading rule applied, else as a suffix.
        (i === 0 && tokens.length === 1 ? edge(t, rules.trailingSpace, rules.trailingDot) : undefined);
      if (atEdge !== undefined) out += atEdge;
      else if (t.quoted) out += t.c;
      else out += substitutes.get(t.c) ?? t.c;
    }
    return out;
  }

  const mapPath = (fn: (s: string) => string) => (path: string) => (identity || path === '' ? path : path.split('/').map(fn).join('/'));
  return { encode, decode, encodePath: mapPath(encode), decodePath: mapPath(decode), identity };
}

function isHighSurrogate(c: string): boolean {
  const code = c.charCodeAt(0);
  return code >= 0xd800 && code <= 0xdbff;
}

function isLoneSurrogate(s: string, i: number): boolean {
  const code = s.charCodeAt(i);
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = s.charCodeAt(i + 1);
    return !(next >= 0xdc00 && next <= 0xdfff);
  }
  return code >= 0xdc00 && code <= 0xdfff;
}
