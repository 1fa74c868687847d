import { Limiters } from '../engine/bandwidth.js';
import { ConnectorCache } from './connectorCache.js';
import { approvalActivities } from './approval.js';
import { copyActivities } from './copy.js';
import type { ActivityDeps } from './deps.js';
import { planActivities } from './plan.js';
import { probeActivities } from './probe.js';
import { runActivities } from './run.js';
import { waitingActivities } from './waiting.js';

export type { ActivityDeps } from './deps.js';

/**
 * Every activity of knarr, built from its dependencies (real ones in the runtime, test ones in
 * tests). The connector cache and bandwidth limiters live as long as the worker that holds these.
 */
export function createActivities(deps: ActivityDeps) {
  const worker = { connectors: new ConnectorCache(deps), limiters: new Limiters() };
  return {
    ...planActivities(deps, worker),
    ...copyActivities(deps, worker),
    ...approvalActivities(deps, worker),
    ...runActivities(deps),
    ...probeActivities(deps),
    ...waitingActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
