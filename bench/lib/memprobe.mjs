/**
 * A preload for a knarr process under measurement (`node --import tsx --import ./bench/lib/memprobe.mjs
 * cli/main.ts server`): every KNARR_BENCH_MEMPROBE_MS (500) it appends one JSON line to the file
 * named by KNARR_BENCH_MEMPROBE with the process's memory split the ways Node and Linux can tell:
 * V8 heap, external and array buffers, WebAssembly memories (PGlite's PostgreSQL lives in one),
 * and /proc/self/smaps_rollup (anonymous vs file-backed RSS). With --expose-gc and
 * KNARR_BENCH_MEMPROBE_GC=1 it collects garbage before every sample, so what it reports is what is
 * retained. Nothing in knarr knows about it; it adds a timer and wraps WebAssembly's constructors.
 * Plain JavaScript: Node also preloads it into worker threads (Temporal's workflow threads), where
 * the tsx loader is not registered; it does nothing there.
 */
/* global process, setInterval */
import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

const file = process.env.KNARR_BENCH_MEMPROBE;
const everyMs = Number(process.env.KNARR_BENCH_MEMPROBE_MS || 500);
const collect = process.env.KNARR_BENCH_MEMPROBE_GC === '1' && typeof globalThis.gc === 'function';

if (file && isMainThread) {
  // WebAssembly memories: find them by wrapping the ways a module gets instantiated.
  const W = globalThis.WebAssembly;
  const MemoryCtor = W.Memory;
  const InstanceCtor = W.Instance;
  // Weak: holding a memory here would keep a dead instance (PGlite's initdb) alive and skew what we measure.
  const memories = new Set();
  const seen = new WeakSet();
  const track = (m) => { if (!seen.has(m)) { seen.add(m); memories.add(new WeakRef(m)); } };
  const remember = (instance) => {
    for (const v of Object.values(instance?.exports ?? {})) if (v instanceof MemoryCtor) track(v);
  };
  const origInstantiate = W.instantiate;
  W.instantiate = async (...args) => {
    const r = await origInstantiate.apply(W, args);
    remember(r instanceof InstanceCtor ? r : r.instance);
    return r;
  };
  if (typeof W.instantiateStreaming === 'function') {
    const origStreaming = W.instantiateStreaming;
    W.instantiateStreaming = async (...args) => {
      const r = await origStreaming.apply(W, args);
      remember(r.instance);
      return r;
    };
  }
  W.Memory = new Proxy(MemoryCtor, { construct(target, args) { const m = new target(...args); track(m); return m; } });
  W.Instance = new Proxy(InstanceCtor, { construct(target, args) { const i = new target(...args); remember(i); return i; } });

  const smaps = () => {
    const out = {};
    try {
      for (const line of readFileSync('/proc/self/smaps_rollup', 'utf8').split('\n')) {
        const m = /^(\w+):\s+(\d+) kB/.exec(line);
        if (m) out[m[1]] = Number(m[2]) * 1024;
      }
    } catch { /* not Linux */ }
    return out;
  };
  const t0 = Date.now();
  let n = 0;
  let lastSmaps = {};
  const sample = () => {
    if (collect) globalThis.gc();
    const mu = process.memoryUsage();
    let wasm = 0;
    let live = 0;
    for (const ref of memories) {
      const m = ref.deref();
      if (!m) { memories.delete(ref); continue; }
      wasm += m.buffer.byteLength;
      live++;
    }
    // smaps_rollup walks every mapping: costly at 1 GB of RSS, so only every tenth sample.
    if (n++ % 10 === 0) lastSmaps = smaps();
    appendFileSync(file, `${JSON.stringify({
      t: Date.now() - t0, rss: mu.rss, heapTotal: mu.heapTotal, heapUsed: mu.heapUsed, external: mu.external, arrayBuffers: mu.arrayBuffers,
      wasm, wasmMemories: live, mallocedMemory: getHeapStatistics().malloced_memory, smaps: lastSmaps,
    })}\n`);
  };
  setInterval(sample, everyMs).unref();
  sample();
}
