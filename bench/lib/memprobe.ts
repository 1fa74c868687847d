/**
 * A preload for a knarr process under measurement (`node --import tsx --import ./bench/lib/memprobe.ts
 * cli/main.ts server`): every KNARR_BENCH_MEMPROBE_MS (500) it appends one JSON line to the file
 * named by KNARR_BENCH_MEMPROBE with the process's memory split the ways Node and Linux can tell:
 * V8 heap, external and array buffers, WebAssembly memories (PGlite's PostgreSQL lives in one),
 * and /proc/self/smaps_rollup (anonymous vs file-backed RSS). With --expose-gc and
 * KNARR_BENCH_MEMPROBE_GC=1 it collects garbage before every sample, so what it reports is what is
 * retained. Nothing in knarr knows about it; it changes nothing but adds a timer.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

const file = process.env.KNARR_BENCH_MEMPROBE;
const everyMs = Number(process.env.KNARR_BENCH_MEMPROBE_MS || 500);
const collect = process.env.KNARR_BENCH_MEMPROBE_GC === '1' && typeof globalThis.gc === 'function';

// WebAssembly memories are neither V8 heap nor (in every Node version) counted in arrayBuffers:
// find them by wrapping the ways a module gets instantiated. (Typed loosely: this project's
// TypeScript lib has no WebAssembly declarations.)
type Memory = { buffer: ArrayBuffer };
type Ctor = new (...args: unknown[]) => object;
const W = (globalThis as unknown as { WebAssembly: Record<string, unknown> }).WebAssembly;
const MemoryCtor = W.Memory as Ctor;
const InstanceCtor = W.Instance as Ctor;
const memories = new Set<Memory>();
const remember = (instance: unknown) => {
  const exports = (instance as { exports?: Record<string, unknown> } | undefined)?.exports ?? {};
  for (const v of Object.values(exports)) if (v instanceof MemoryCtor) memories.add(v as Memory);
};
const origInstantiate = W.instantiate as (...a: unknown[]) => Promise<unknown>;
W.instantiate = async (...args: unknown[]) => {
  const r = await origInstantiate.apply(W, args);
  remember(r instanceof InstanceCtor ? r : (r as { instance?: unknown }).instance);
  return r;
};
if (typeof W.instantiateStreaming === 'function') {
  const origStreaming = W.instantiateStreaming as (...a: unknown[]) => Promise<{ instance: unknown }>;
  W.instantiateStreaming = async (...args: unknown[]) => {
    const r = await origStreaming.apply(W, args);
    remember(r.instance);
    return r;
  };
}
W.Memory = new Proxy(MemoryCtor, {
  construct(target, args: unknown[]) {
    const m = new target(...args);
    memories.add(m as Memory);
    return m;
  },
});
W.Instance = new Proxy(InstanceCtor, {
  construct(target, args: unknown[]) {
    const i = new target(...args);
    remember(i);
    return i;
  },
});

function smaps(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync('/proc/self/smaps_rollup', 'utf8').split('\n')) {
      const m = /^(\w+):\s+(\d+) kB/.exec(line);
      if (m && ['Rss', 'Anonymous', 'Shared_Clean', 'Private_Clean', 'Private_Dirty', 'Swap'].includes(m[1])) out[m[1]] = Number(m[2]) * 1024;
    }
  } catch { /* not Linux */ }
  return out;
}

if (file) {
  const t0 = Date.now();
  const sample = () => {
    if (collect) (globalThis.gc as () => void)();
    const mu = process.memoryUsage();
    const heap = getHeapStatistics();
    let wasmBytes = 0;
    for (const m of memories) wasmBytes += m.buffer.byteLength;
    appendFileSync(file, `${JSON.stringify({
      t: Date.now() - t0, rss: mu.rss, heapTotal: mu.heapTotal, heapUsed: mu.heapUsed, external: mu.external, arrayBuffers: mu.arrayBuffers,
      wasm: wasmBytes, wasmMemories: memories.size, mallocedMemory: heap.malloced_memory, smaps: smaps(),
    })}\n`);
  };
  setInterval(sample, everyMs).unref();
  sample();
}
