import { defineQuery, setHandler } from '@temporalio/workflow';
import type { BatchScan, RunPhase, RunSettings, RunStatus, TransferRunInput } from '../core/run.js';

export const statusQuery = defineQuery<RunStatus>('status');

/**
 * The one object that holds a run's state and answers for it (Temporal's safe-message-handlers
 * shape): the status query now; pause, resume, cancel, approve, set-limits and
 * credentials-updated handlers attach here. Phases read `settings` at every decision, so a
 * handler that changes them takes effect at the next batch.
 */
export class RunState {
  readonly runId: string;
  readonly heartbeatTimeoutMs: number;
  settings: RunSettings;
  phase: RunPhase;
  scan: BatchScan | null = null;
  batchesDone: number;
  filesInFlight = 0;

  constructor(input: TransferRunInput) {
    this.runId = input.runId;
    this.heartbeatTimeoutMs = input.heartbeatTimeoutMs;
    this.settings = { ...input.settings };
    this.phase = input.cursor ? (input.cursor.scan.endsWith('verify') ? 'verify' : 'copy') : 'plan';
    this.scan = input.cursor?.scan ?? null;
    this.batchesDone = input.cursor?.batchesDone ?? 0;
    setHandler(statusQuery, () => this.status());
  }

  status(): RunStatus {
    return { runId: this.runId, phase: this.phase, scan: this.scan, batchesDone: this.batchesDone, filesInFlight: this.filesInFlight, settings: { ...this.settings } };
  }
}
