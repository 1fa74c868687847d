import { html } from '../html.js';
import { providerName } from './providers.js';
import { time } from './format.js';

export const terminalStates = ['completed', 'completed_with_errors', 'failed', 'cancelled'];

const stateWords = {
  queued: 'queued', planning: 'planning', awaiting_approval: 'waiting for approval', copying: 'copying', checking: 'checking',
  verifying: 'verifying', deleting: 'deleting', paused: 'paused', throttled: 'slowed down', needs_reconnect: 'needs reconnect',
  needs_attention: 'needs attention', completed: 'completed', completed_with_errors: 'completed with errors', failed: 'failed', cancelled: 'cancelled',
};

export function StateBadge({ state }) {
  const kind = state === 'completed' ? 'ok' : ['failed', 'needs_reconnect', 'needs_attention', 'completed_with_errors'].includes(state) ? 'bad'
    : ['throttled', 'paused', 'awaiting_approval'].includes(state) ? 'wait' : terminalStates.includes(state) ? 'done' : 'busy';
  return html`<span class=${`state ${kind}`}>${stateWords[state] ?? state}</span>`;
}

/**
 * Why a run waits, in plain words, from its state and `waiting` ({reason, until, remote}); the
 * remote (when known) names the provider as its owner calls it.
 * @returns {string | null}
 */
export function waitingWords(run, remote) {
  const w = run.waiting;
  const provider = providerName(remote ?? (w?.remote ? { type: '', name: w.remote } : null));
  const who = remote ? provider : (w?.remote ?? 'The cloud');
  switch (run.state) {
    case 'throttled':
      return w?.until ? `${who} asked us to slow down; continuing at ${time(w.until)}` : `${who} asked us to slow down; continuing as soon as it allows`;
    case 'needs_reconnect':
      return `Reconnect your ${remote ? provider : w?.remote ?? ''} account: it no longer accepts knarr's access${w?.remote ? ` (remote "${w.remote}")` : ''}.`;
    case 'needs_attention':
      return `${w?.remote ? `"${w.remote}"` : 'The destination'} is full: free some space there, then resume.`;
    case 'paused':
      return 'Paused: nothing is being copied until you resume.';
    case 'awaiting_approval':
      return 'Nothing is copied until you approve the plan below.';
    case 'queued':
      return 'Waiting for a worker to start it.';
    default:
      return null;
  }
}
