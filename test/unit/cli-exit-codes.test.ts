import { describe, expect, it } from 'vitest';
import { apiError, CliError, unreachable } from '../../cli/client.js';
import { exitCodeOfRun, exitCodeOfStatus, exitCodes } from '../../cli/exitCodes.js';
import { runStates, terminalRunStates, type RunView } from '../../core/run.js';

const files = (done: number, extra: Partial<RunView['files']> = {}): RunView['files'] => ({ done, total: done, failed: 0, skipped: 0, deduplicated: 0, moved: 0, deleted: 0, ...extra });

describe('exit code of a run', () => {
  it('follows rclone: 0 done, 4 some files failed, 1 failed or cancelled, 9 nothing to do', () => {
    expect(exitCodeOfRun({ state: 'completed', files: files(3) })).toBe(0);
    expect(exitCodeOfRun({ state: 'completed', files: files(0, { skipped: 5, total: 5 }) })).toBe(9);
    // A sync that only deleted did something.
    expect(exitCodeOfRun({ state: 'completed', files: files(0, { deleted: 2 }) })).toBe(0);
    expect(exitCodeOfRun({ state: 'completed_with_errors', files: files(3, { failed: 1 }) })).toBe(4);
    expect(exitCodeOfRun({ state: 'failed', files: files(0) })).toBe(1);
    expect(exitCodeOfRun({ state: 'cancelled', files: files(1) })).toBe(1);
  });

  it('is 6 while the run waits for the user, 0 while it is simply going', () => {
    for (const state of ['awaiting_approval', 'needs_reconnect', 'needs_attention'] as const) expect(exitCodeOfRun({ state, files: files(0) })).toBe(6);
    for (const state of ['queued', 'planning', 'copying', 'checking', 'verifying', 'deleting', 'paused', 'throttled'] as const) expect(exitCodeOfRun({ state, files: files(0) })).toBe(0);
  });

  it('gives every state a code', () => {
    for (const state of runStates) expect(Object.values(exitCodes)).toContain(exitCodeOfRun({ state, files: files(0) }));
    expect(terminalRunStates.map((state) => exitCodeOfRun({ state, files: files(1) }))).toEqual([0, 4, 1, 1]);
  });

  it('reads a check run by its verdicts: 0 when all match, 4 when any differs or is missing', () => {
    const none = { match: 0, differ: 0, missing_on_dst: 0, missing_on_src: 0 };
    expect(exitCodeOfRun({ state: 'completed', files: files(0) }, { ...none, match: 10 })).toBe(0);
    expect(exitCodeOfRun({ state: 'completed', files: files(0) }, { ...none, match: 9, differ: 1 })).toBe(4);
    expect(exitCodeOfRun({ state: 'completed', files: files(0) }, { ...none, missing_on_src: 1 })).toBe(4);
  });
});

describe('exit code of an API error', () => {
  it('maps not found, bad request and unavailable', () => {
    expect(exitCodeOfStatus(404, 'not_found')).toBe(3);
    expect(exitCodeOfStatus(422, 'unknown_remote')).toBe(3);
    expect(exitCodeOfStatus(422, 'source_not_found')).toBe(3);
    expect(exitCodeOfStatus(400, 'invalid_request')).toBe(2);
    expect(exitCodeOfStatus(503, null)).toBe(5);
    expect(exitCodeOfStatus(409, 'name_taken')).toBe(1);
    expect(exitCodeOfStatus(422, 'remote_unreachable')).toBe(1);
    expect(exitCodeOfStatus(500, 'internal')).toBe(1);
  });
});

describe('one-line errors', () => {
  it('shows the API\'s message, with its code and exit code', () => {
    const err = apiError(422, 'Unprocessable Entity', JSON.stringify({ error: { code: 'unknown_remote', message: 'no remote named "nope": create it first with POST /v1/remotes', field: 'source' } }), null);
    expect(err).toBeInstanceOf(CliError);
    expect(err.message).toBe('no remote named "nope": create it first with POST /v1/remotes');
    expect(err).toMatchObject({ exitCode: 3, status: 422, code: 'unknown_remote' });
  });

  it('says what came back when it is not knarr\'s error model, in one line', () => {
    const err = apiError(502, 'Bad Gateway', '<html>\n<body>proxy error</body>\n</html>', null);
    expect(err.message).toBe('the server answered 502 Bad Gateway');
    expect(err.exitCode).toBe(5);
    expect(apiError(400, '', JSON.stringify({ error: { code: 'x', message: 'line one\nline two' } }), null).message).toBe('line one line two');
  });

  it('says which key was refused, or how to send one', () => {
    const body = JSON.stringify({ error: { code: 'invalid_key', message: 'this API key is not valid (mistyped, or revoked)' } });
    expect(apiError(401, '', body, 'KNARR_API_KEY').message).toBe('this API key is not valid (mistyped, or revoked) (the key from KNARR_API_KEY)');
    expect(apiError(401, '', body, null).message).toBe('this API key is not valid (mistyped, or revoked) (no key was sent: give --key, set KNARR_API_KEY or run "knarr login")');
    expect(apiError(401, '', body, 'KNARR_API_KEY').exitCode).toBe(1);
  });

  it('names the URL and what to do when nothing answers (a temporary error)', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8080'), { code: 'ECONNREFUSED' }) });
    const err = unreachable('http://127.0.0.1:8080', refused);
    expect(err.message).toBe('cannot reach knarr at http://127.0.0.1:8080 (ECONNREFUSED): start it with "knarr server", or give the right --url (or KNARR_API_URL)');
    expect(err.exitCode).toBe(5);
    expect(err.message).not.toMatch(/\n/);
  });
});
