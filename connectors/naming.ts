import { ConnectorError } from './errors.js';
import type { Connector } from './types.js';

/**
 * The connector, with the remote's name set on every ConnectorError its methods throw: a run
 * that copies between two remotes can then say which one refused its credentials, throttled or
 * is full, without each provider's code having to remember to say so. Errors a method throws
 * later through a stream it returned keep no name (the engine sees those as the read failing).
 */
export function namingErrors(connector: Connector, remoteName: string): Connector {
  const tag = (err: unknown): never => {
    if (err instanceof ConnectorError) {
      err.remote ??= remoteName;
      err.provider ??= connector.type;
    }
    throw err;
  };
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(connector, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      if (!wrapped.has(key)) {
        wrapped.set(key, (...args: unknown[]) => {
          let out: unknown;
          try {
            out = (value as (...a: unknown[]) => unknown).apply(target, args);
          } catch (err) {
            tag(err);
          }
          if (out instanceof Promise) return out.catch(tag);
          if (out && typeof out === 'object' && Symbol.asyncIterator in out) return namedIterable(out as AsyncIterable<unknown>, tag);
          return out;
        });
      }
      return wrapped.get(key);
    },
  });
}

async function* namedIterable<T>(source: AsyncIterable<T>, tag: (err: unknown) => never): AsyncIterable<T> {
  try {
    yield* source;
  } catch (err) {
    tag(err);
  }
}
