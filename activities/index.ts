import { copyActivities } from './copy.js';
import type { ActivityDeps } from './deps.js';
import { planActivities } from './plan.js';
import { probeActivities } from './probe.js';
import { runActivities } from './run.js';
import { verifyActivities } from './verify.js';

export type { ActivityDeps } from './deps.js';

/** Every activity of knarr, built from its dependencies (real ones in the runtime, test ones in tests). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...planActivities(deps),
    ...copyActivities(deps),
    ...verifyActivities(deps),
    ...runActivities(deps),
    ...probeActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
