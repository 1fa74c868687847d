/**
 * Runs last for days, so a worker of a newer knarr replays workflows that an older one started.
 * Any change to what transferRun does in a given state (a new activity call, a different order,
 * a new timer or signal wait) must keep old histories replaying:
 *
 *   if (patched(patches.someChange)) { new behaviour } else { old behaviour }
 *
 * Add the id here, never reuse or remove one while runs that predate it may exist, and record a
 * history of the new behaviour for test/unit/replay.test.ts:
 *
 *   KNARR_RECORD_HISTORIES=v<N> npx vitest run test/integration/transfer.test.ts
 *
 * Every recorded history (test/fixtures/histories/) is replayed against today's code in CI, so
 * a change that breaks a running run fails there first.
 */
export const patches = {
  /** A rejected credential or a full destination waits for the user (needs_reconnect, needs_attention) instead of failing the run. */
  waitForUser: 'wait-for-user',
  /** The plan is stored with its digest after planning, and a dry run or a sync that would delete waits for approval. */
  storedPlan: 'stored-plan',
  /** After the copy and verify scans, sync's deletes and move's source deletes (the delete scan). */
  deleteScan: 'delete-scan',
  /** A cancelled run removes its partial uploads before it ends. */
  discardOnCancel: 'discard-on-cancel',
  /** New limits that arrive as the run is about to continue as new are recorded (their event) before it does. */
  limitsBeforeContinue: 'limits-before-continue',
  /** The run's state is mirrored into the KnarrState search attribute as the workflow moves on. */
  searchAttributes: 'search-attributes',
} as const satisfies Record<string, string>;
