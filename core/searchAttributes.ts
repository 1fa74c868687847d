import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';

/**
 * What an operator filters runs by in Temporal Web (`KnarrOwner = "alice"`): set when a run's
 * workflow starts (by the API or by a schedule) and, for the state, as the workflow moves on.
 * knarr registers them on its namespace at start (runtime/temporal.ts ensureSearchAttributes).
 * Never a secret or a path: search attributes are stored unencrypted and indexed.
 */
export const searchAttributes = {
  owner: defineSearchAttributeKey('KnarrOwner', SearchAttributeType.KEYWORD),
  jobId: defineSearchAttributeKey('KnarrJobId', SearchAttributeType.KEYWORD),
  sourceType: defineSearchAttributeKey('KnarrSourceType', SearchAttributeType.KEYWORD),
  destinationType: defineSearchAttributeKey('KnarrDestinationType', SearchAttributeType.KEYWORD),
  state: defineSearchAttributeKey('KnarrState', SearchAttributeType.KEYWORD),
} as const;

export interface RunIdentity {
  owner: string;
  jobId: string;
  sourceType: string;
  destinationType: string;
  mode: string;
  source: string;
  destination: string;
}

/** The attributes a run's workflow starts with. */
export function startAttributes(run: RunIdentity): SearchAttributePair[] {
  return [
    { key: searchAttributes.owner, value: run.owner },
    { key: searchAttributes.jobId, value: run.jobId },
    { key: searchAttributes.sourceType, value: run.sourceType },
    { key: searchAttributes.destinationType, value: run.destinationType },
    { key: searchAttributes.state, value: 'queued' },
  ];
}

/** The one-line summary Temporal Web shows for a run. */
export function runSummary(run: RunIdentity): string {
  return `${run.mode} ${run.source} → ${run.destination} (${run.owner})`;
}
