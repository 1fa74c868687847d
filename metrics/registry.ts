import { collectDefaultMetrics, Counter, Gauge, Histogram, register } from 'prom-client';

/**
 * knarr's Prometheus metrics, one set per process: a worker counts what it moved, met and
 * retried; the API adds the runs by state from the database (every process sees the same) when
 * it is scraped. `GET /metrics` on the API, or on KNARR_METRICS_PORT of a worker.
 */
collectDefaultMetrics({ prefix: 'knarr_process_' });

export const transferredBytes = new Counter({
  name: 'knarr_transferred_bytes_total',
  help: 'Bytes read from a source (direction="read") or written to a destination (direction="write"), by provider type',
  labelNames: ['provider', 'direction'] as const,
});

export const transferredFiles = new Counter({
  name: 'knarr_transferred_files_total',
  help: 'Files read from a source or written to a destination, by provider type',
  labelNames: ['provider', 'direction'] as const,
});

export const throttleEvents = new Counter({
  name: 'knarr_throttle_events_total',
  help: 'Answers by which a provider asked knarr to slow down (429, 503, Jottacloud slow-downs, quotas)',
  labelNames: ['provider'] as const,
});

export const retries = new Counter({
  name: 'knarr_retries_total',
  help: 'Activity attempts that failed and will be retried, by provider type and why (throttled, transient)',
  labelNames: ['provider', 'kind'] as const,
});

export const activityDuration = new Histogram({
  name: 'knarr_activity_duration_seconds',
  help: 'How long each activity attempt took, by activity and outcome',
  labelNames: ['activity', 'outcome'] as const,
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200],
});

export const runsByState = new Gauge({
  name: 'knarr_runs',
  help: 'Runs by state, from the database',
  labelNames: ['state'] as const,
});

export { register as metricsRegistry };
