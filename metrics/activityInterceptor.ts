import type { Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';
import { activityDuration } from './registry.js';

/** Times every activity attempt into knarr_activity_duration_seconds, by activity type and outcome. */
export function activityMetrics(ctx: Context): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const end = activityDuration.startTimer({ activity: ctx.info.activityType });
        try {
          const out = await next(input);
          end({ outcome: 'ok' });
          return out;
        } catch (err) {
          end({ outcome: 'failed' });
          throw err;
        }
      },
    },
  };
}
