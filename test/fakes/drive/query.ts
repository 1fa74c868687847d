/**
 * Drive's search language (`q` of files.list), the part clients send when listing: `'<id>' in
 * parents`, `trashed = true|false`, `name = '…'` (with `\'` and `\\` escapes), `name contains`,
 * `mimeType = / != '…'`, `and`, `or`, `not`, parentheses. Anything else is a 400, as Drive
 * answers an invalid query.
 */
import type { DriveItem } from './store.js';

export class QueryError extends Error {}

type Token = { t: 'str'; v: string } | { t: 'word'; v: string } | { t: 'op'; v: string } | { t: '(' } | { t: ')' };

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < q.length; ) {
    const c = q[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')') {
      out.push({ t: c });
      i++;
    } else if (c === "'" || c === '"') {
      let v = '';
      i++;
      while (i < q.length && q[i] !== c) {
        if (q[i] === '\\' && i + 1 < q.length) i++;
        v += q[i++];
      }
      if (i >= q.length) throw new QueryError('unterminated string');
      i++;
      out.push({ t: 'str', v });
    } else if (c === '!' || c === '=' || c === '<' || c === '>') {
      const two = q.slice(i, i + 2);
      const v = ['!=', '<=', '>='].includes(two) ? two : c;
      if (v === '!') throw new QueryError('stray !');
      out.push({ t: 'op', v });
      i += v.length;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(q.slice(i));
      if (!m) throw new QueryError(`unexpected ${JSON.stringify(c)}`);
      out.push({ t: 'word', v: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

export type Predicate = (item: DriveItem) => boolean;

/** Parses `q` into a predicate; also returns the parent ids it names (to narrow the scan). */
export function parseQuery(q: string): { match: Predicate; parents: string[] } {
  const tokens = tokenize(q);
  let pos = 0;
  const parents: string[] = [];
  const peek = () => tokens[pos];
  const word = (w: string) => {
    const t = peek();
    return t?.t === 'word' && t.v.toLowerCase() === w;
  };
  const expectStr = (): string => {
    const t = tokens[pos++];
    if (t?.t !== 'str') throw new QueryError('expected a quoted value');
    return t.v;
  };
  const expectOp = (): string => {
    const t = tokens[pos++];
    if (t?.t === 'op') return t.v;
    if (t?.t === 'word' && t.v === 'contains') return 'contains';
    throw new QueryError('expected an operator');
  };

  function orExpr(): Predicate {
    let left = andExpr();
    while (word('or')) {
      pos++;
      const l = left;
      const r = andExpr();
      left = (it) => l(it) || r(it);
    }
    return left;
  }
  function andExpr(): Predicate {
    let left = notExpr();
    while (word('and')) {
      pos++;
      const l = left;
      const r = notExpr();
      left = (it) => l(it) && r(it);
    }
    return left;
  }
  function notExpr(): Predicate {
    if (word('not')) {
      pos++;
      const inner = notExpr();
      return (it) => !inner(it);
    }
    return term();
  }
  function term(): Predicate {
    const t = tokens[pos];
    if (!t) throw new QueryError('unexpected end of query');
    if (t.t === '(') {
      pos++;
      const inner = orExpr();
      if (tokens[pos++]?.t !== ')') throw new QueryError('missing )');
      return inner;
    }
    if (t.t === 'str') {
      pos++;
      if (!word('in')) throw new QueryError('expected in');
      pos++;
      if (!word('parents')) throw new QueryError('only "in parents" is supported');
      pos++;
      const id = t.v === 'root' ? '0AEmuMyDriveRootFolder' : t.v;
      parents.push(id);
      return (it) => it.parents.includes(id);
    }
    if (t.t !== 'word') throw new QueryError('expected a field');
    pos++;
    const field = t.v;
    const op = expectOp();
    if (field === 'trashed') {
      const v = tokens[pos++];
      if (v?.t !== 'word' || (v.v !== 'true' && v.v !== 'false')) throw new QueryError('trashed takes true or false');
      const want = v.v === 'true';
      if (op === '=') return (it) => it.trashed === want;
      if (op === '!=') return (it) => it.trashed !== want;
      throw new QueryError('trashed takes = or !=');
    }
    const value = expectStr();
    const get = field === 'name' ? (it: DriveItem) => it.name : field === 'mimeType' ? (it: DriveItem) => it.mimeType : undefined;
    if (!get) throw new QueryError(`unsupported field ${field}`);
    if (op === '=') return (it) => get(it) === value;
    if (op === '!=') return (it) => get(it) !== value;
    if (op === 'contains') return (it) => get(it).includes(value);
    throw new QueryError(`unsupported operator ${op} for ${field}`);
  }

  const match = orExpr();
  if (pos !== tokens.length) throw new QueryError('trailing text');
  return { match, parents };
}
