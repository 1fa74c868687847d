/**
 * Drive's partial responses (`fields=nextPageToken,files(id,name,parents)`): only the named
 * fields come back, so a client that forgets one it needs finds out here as against Drive.
 * `*` or no `fields` gives the default set.
 */
export type FieldTree = Map<string, FieldTree | true> | '*';

export function parseFields(spec: string | null): FieldTree {
  if (!spec || spec.trim() === '*') return '*';
  let pos = 0;
  function list(): Map<string, FieldTree | true> {
    const out = new Map<string, FieldTree | true>();
    while (pos < spec!.length) {
      const m = /^\s*([A-Za-z0-9_*]+)/.exec(spec!.slice(pos));
      if (!m) break;
      pos += m[0].length;
      let name = m[1];
      let value: FieldTree | true = true;
      // `a/b` is `a(b)`.
      const path: string[] = [name];
      while (spec![pos] === '/') {
        const n = /^\/([A-Za-z0-9_*]+)/.exec(spec!.slice(pos));
        if (!n) break;
        path.push(n[1]);
        pos += n[0].length;
      }
      if (spec![pos] === '(') {
        pos++;
        value = list();
        if (spec![pos] === ')') pos++;
      }
      for (let i = path.length - 1; i > 0; i--) value = new Map([[path[i], value]]);
      name = path[0];
      const prev = out.get(name);
      out.set(name, prev instanceof Map && value instanceof Map ? new Map([...prev, ...value]) : value);
      while (spec![pos] === ' ') pos++;
      if (spec![pos] === ',') pos++;
      else break;
    }
    return out;
  }
  return list();
}

/** `obj` cut to `tree`; arrays are cut element by element. */
export function project(obj: unknown, tree: FieldTree | true): unknown {
  if (tree === true || tree === '*' || obj === null || typeof obj !== 'object') return obj;
  if (Array.isArray(obj)) return obj.map((x) => project(x, tree));
  if (tree.has('*')) return obj;
  const out: Record<string, unknown> = {};
  for (const [k, sub] of tree) {
    const v = (obj as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = project(v, sub);
  }
  return out;
}

/** The sub-tree of one field (e.g. `files` of a list request), or `*` when everything was asked. */
export function sub(tree: FieldTree, name: string): FieldTree | true | undefined {
  if (tree === '*') return '*';
  return tree.get(name);
}
