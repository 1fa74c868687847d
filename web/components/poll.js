import { useEffect, useRef, useState } from 'preact/hooks';

/**
 * Loads `fn` now and every `ms` while the page is visible (and once more when it becomes visible
 * again): the runs' live view without keeping a hidden tab busy.
 * @template T
 * @param {() => Promise<T>} fn
 * @param {unknown[]} deps
 * @returns {{ data: T | undefined, error: unknown, reload: () => Promise<void> }}
 */
export function usePoll(fn, deps, ms = 2000) {
  const [data, setData] = useState(undefined);
  const [error, setError] = useState(null);
  const latest = useRef(fn);
  latest.current = fn;
  const tick = useRef(async () => {});

  useEffect(() => {
    let stopped = false;
    let timer = 0;
    const load = async () => {
      clearTimeout(timer);
      try {
        const d = await latest.current();
        if (stopped) return;
        setData(d);
        setError(null);
      } catch (err) {
        if (!stopped) setError(err);
      }
      if (!stopped && ms > 0 && document.visibilityState === 'visible') timer = setTimeout(load, ms);
    };
    tick.current = load;
    const onVisible = () => {
      if (document.visibilityState === 'visible') load();
    };
    document.addEventListener('visibilitychange', onVisible);
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [...deps, ms]);

  return { data, error, reload: () => tick.current() };
}
