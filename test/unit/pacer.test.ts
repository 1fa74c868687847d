import { describe, expect, it } from 'vitest';
import { Pacer } from '../../connectors/shared/pacer.js';

/** A pacer on a fake clock: sleeping advances the clock, and every wait is recorded. */
function pacedClock(opts: { minSleepMs?: number; maxSleepMs?: number } = {}) {
  let now = 1_000_000;
  const waits: number[] = [];
  const pacer = new Pacer({
    ...opts,
    now: () => now,
    sleep: async (ms) => {
      waits.push(ms);
      now += ms;
    },
  });
  return { pacer, waits, advance: (ms: number) => (now += ms) };
}

describe('the pacer', () => {
  it('spaces turns by the minimum sleep, in order', async () => {
    const { pacer, waits } = pacedClock({ minSleepMs: 10 });
    await Promise.all([pacer.turn(), pacer.turn(), pacer.turn()]);
    expect(waits).toEqual([10, 10]);
  });

  it('does not wait at all without a minimum sleep or a failure', async () => {
    const { pacer, waits } = pacedClock();
    for (let i = 0; i < 5; i++) await pacer.turn();
    expect(waits).toEqual([]);
  });

  it('doubles after failures up to the maximum, and eases after successes', () => {
    const { pacer } = pacedClock({ minSleepMs: 10, maxSleepMs: 2_000 });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      pacer.failed();
      seen.push(pacer.spacingMs);
    }
    expect(seen).toEqual([250, 500, 1_000, 2_000, 2_000]);
    pacer.succeeded();
    pacer.succeeded();
    expect(pacer.spacingMs).toBe(500);
    for (let i = 0; i < 20; i++) pacer.succeeded();
    expect(pacer.spacingMs).toBe(10);
  });

  it('honours Retry-After for the next turn, within the maximum', async () => {
    const { pacer, waits } = pacedClock({ maxSleepMs: 5_000 });
    await pacer.turn();
    pacer.failed(1_500);
    await pacer.turn();
    expect(waits).toEqual([1_500]);
  });

  it('stops waiting when the signal aborts', async () => {
    const pacer = new Pacer({ minSleepMs: 60_000 });
    await pacer.turn();
    const ac = new AbortController();
    const waiting = pacer.turn(ac.signal);
    ac.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
  });
});
