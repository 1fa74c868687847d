/**
 * Reads a V8 `.cpuprofile` (`node --cpu-prof`) and sums self time per function and per module:
 * PGlite (its JS and its WebAssembly), drizzle, postgres.js, Temporal, Node's fs / crypto /
 * streams, garbage collection, and our own folders. Natives without a script (`realpath`,
 * `digest`…) are attributed to the nearest caller that has one, and listed by name too.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  /** bench/lib/memprobe.mjs's own time, left out of the rest. */
  probeMs: number;
  /** Node's file system / crypto / stream time by who asked for it (the nearest frame outside Node). */
  byRequester: { module: string; requester: string; ms: number }[];
  byModule: { module: string; ms: number }[];
  byFunction: { fn: string; module: string; ms: number }[];
}

const repo = fileURLToPath(new URL('../..', import.meta.url));

export function moduleOf(url: string, fn: string): string | null {
  if (!url) {
    if (fn === '(garbage collector)') return 'garbage collection';
    if (fn === '(idle)') return 'idle';
    if (fn === '(program)') return 'V8/native (program)';
    return null;
  }
  if (url.startsWith('wasm://')) return 'PGlite (WASM)';
  const path = url.replace(/^file:\/\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (nm) {
    const pkg = nm[1];
    if (pkg === '@electric-sql/pglite') return 'PGlite (JS)';
    if (pkg === 'drizzle-orm') return 'drizzle-orm';
    if (pkg === 'postgres') return 'postgres.js';
    if (pkg.startsWith('@temporalio/')) return `temporal (${pkg.slice('@temporalio/'.length)})`;
    if (pkg === 'zod') return 'zod';
    if (pkg === 'express' || pkg === 'router' || pkg === 'body-parser' || pkg === 'finalhandler') return 'express';
    if (pkg === 'tsx' || pkg === 'esbuild' || pkg === 'get-tsconfig') return 'tsx (loader)';
    return `npm ${pkg}`;
  }
  if (url.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([^/]+)(?:\/([^/]+))?/.exec(url);
    const top = m?.[1] ?? url;
    if (top === 'fs' || url.includes('/fs/')) return 'node fs';
    if (top === 'crypto' || url.includes('crypto')) return 'node crypto';
    if (top === 'streams' || top === 'stream' || url.includes('stream')) return 'node streams';
    if (url.includes('timers') || url.includes('process/task_queues')) return 'node timers/microtasks';
    if (url.includes('http') || url.includes('net') || url.includes('undici') || url.includes('deps/undici')) return 'node net/http';
    return `node ${top}`;
  }
  if (path.startsWith(repo)) {
    const rel = path.slice(repo.length);
    const top = rel.split('/')[0];
    return `knarr ${top}/`;
  }
  return 'other';
}

export async function summariseCpuProfile(file: string, top = 40): Promise<ProfileSummary> {
  const p = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));

  const moduleOfNode = (id: number): string => {
    const n = byId.get(id)!;
    const own = moduleOf(n.callFrame.url, n.callFrame.functionName);
    if (own) return own;
    // A native with no script: count it where it was called from.
    for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
      const u = byId.get(up)!;
      const m = moduleOf(u.callFrame.url, u.callFrame.functionName);
      if (m && m !== 'V8/native (program)') return m;
    }
    return 'other';
  };

  const requesterOf = (id: number): string => {
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      const u = byId.get(up)!;
      const m = moduleOf(u.callFrame.url, u.callFrame.functionName);
      if (m && !m.startsWith('node ') && m !== 'V8/native (program)') return u.callFrame.url.includes('/bench/lib/memprobe') ? 'bench probe' : m;
    }
    return 'node itself';
  };
  const modules = new Map<string, number>();
  const requesters = new Map<string, number>();
  let probeUs = 0;
  const fns = new Map<string, { fn: string; module: string; ms: number }>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const module = moduleOfNode(id);
    if (module === 'idle') { idleUs += us; continue; }
    const requester = requesterOf(id);
    if (requester === 'bench probe') { probeUs += us; continue; }
    totalUs += us;
    if (module.startsWith('node ')) requesters.set(`${module}\u0000${requester}`, (requesters.get(`${module}\u0000${requester}`) ?? 0) + us);
    modules.set(module, (modules.get(module) ?? 0) + us);
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^file:\/\//, '').replace(repo, '').replace(/.*node_modules\//, '')}:${n.callFrame.lineNumber + 1}` : 'native';
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where}`;
    const f = fns.get(key) ?? { fn: key, module, ms: 0 };
    f.ms += us / 1000;
    fns.set(key, f);
  }
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    probeMs: probeUs / 1000,
    byRequester: [...requesters].map(([k, us]) => ({ module: k.split('\u0000')[0], requester: k.split('\u0000')[1], ms: us / 1000 })).sort((a, b) => b.ms - a.ms).slice(0, 15),
    byModule: [...modules].map(([module, us]) => ({ module, ms: us / 1000 })).sort((a, b) => b.ms - a.ms),
    byFunction: [...fns.values()].sort((a, b) => b.ms - a.ms).slice(0, top),
  };
}

export function renderProfileSummary(s: ProfileSummary, title: string): string {
  const lines = [`### ${title}`, '', `Main-thread CPU in the profile: ${(s.totalMs / 1000).toFixed(1)} s busy, ${(s.idleMs / 1000).toFixed(1)} s idle` +
    `${s.probeMs > 0 ? ` (the memory probe's own ${(s.probeMs / 1000).toFixed(2)} s left out)` : ''}. Natives without a script (\`stat\`, \`digest\`…) count in the Node module they are called through.`, ''];
  lines.push('| module | self s | share |', '| --- | ---: | ---: |');
  for (const m of s.byModule) if (m.ms >= s.totalMs * 0.002) lines.push(`| ${m.module} | ${(m.ms / 1000).toFixed(2)} | ${((100 * m.ms) / s.totalMs).toFixed(1)} % |`);
  lines.push('', '| Node API time | asked for by | self s |', '| --- | --- | ---: |');
  for (const r of s.byRequester) lines.push(`| ${r.module} | ${r.requester} | ${(r.ms / 1000).toFixed(2)} |`);
  lines.push('', '| function (self time) | module | self s |', '| --- | --- | ---: |');
  for (const f of s.byFunction) lines.push(`| \`${f.fn.replace(/\|/g, '\\|')}\` | ${f.module} | ${(f.ms / 1000).toFixed(2)} |`);
  lines.push('');
  return lines.join('\n');
}
