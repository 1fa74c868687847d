import { describe, expect, it } from 'vitest';
import { DropboxError, dropboxStatusMapper, taggedFailure } from '../../connectors/dropbox/errors.js';
import { findTagged, headerSafeJson, tagsOf } from '../../connectors/dropbox/wire.js';

const map = dropboxStatusMapper((d) => `reconnect please (${d})`);
const answer = (status: number, body: unknown, retryAfterMs?: number) =>
  map({ status, headers: {}, bodyText: typeof body === 'string' ? body : JSON.stringify(body), op: 'op', retryAfterMs });
const dbx = (summary: string, error: unknown = {}) => ({ error_summary: summary, error });

describe('dropbox status table', () => {
  it.each([
    ['path/not_found/..', 'not_found'],
    ['path_lookup/not_found/...', 'not_found'],
    ['from_lookup/not_found/', 'not_found'],
    ['path/conflict/file/..', 'conflict'],
    ['to/conflict/folder/..', 'conflict'],
    ['path/not_folder/..', 'conflict'],
    ['path/insufficient_space/..', 'quota_exceeded'],
    ['path/malformed_path/..', 'invalid_name'],
    ['path/disallowed_name/..', 'invalid_name'],
    ['too_many_write_operations/..', 'throttled'],
    ['payload_too_large/..', 'too_large'],
    ['content_hash_mismatch/..', 'corrupt'],
    ['path/no_write_permission/..', 'forbidden'],
    ['lookup_failed/incorrect_offset/..', 'transient'],
    ['reset/..', 'not_found'],
    ['something_new/..', 'conflict'],
  ])('409 %s is %s', (summary, kind) => {
    const err = answer(409, dbx(summary));
    expect(err.kind).toBe(kind);
    expect(err.message).toContain(summary);
  });

  it('401 expired and invalid tokens are auth, worded to reconnect', () => {
    for (const tag of ['expired_access_token', 'invalid_access_token']) {
      const err = answer(401, dbx(`${tag}/..`, { '.tag': tag }));
      expect(err).toMatchObject({ kind: 'auth', status: 401 });
      expect(err.message).toMatch(/reconnect please/);
    }
  });

  it('429 is throttled with Retry-After, or the JSON retry_after without it', () => {
    const body = { error_summary: 'too_many_requests/..', error: { reason: { '.tag': 'too_many_requests' }, retry_after: 7 } };
    expect(answer(429, body, 3000)).toMatchObject({ kind: 'throttled', scope: 'account', retryAfterMs: 3000 });
    expect(answer(429, body)).toMatchObject({ kind: 'throttled', retryAfterMs: 7000 });
    expect(answer(429, { error: { reason: { '.tag': 'too_many_write_operations' } } })).toMatchObject({ kind: 'throttled', retryAfterMs: undefined });
  });

  it('plain-text 400s are unsupported; 5xx transient; 503 with Retry-After throttled', () => {
    expect(answer(400, 'Error in call to API function "files/x": bad').kind).toBe('unsupported');
    expect(answer(500, 'oops').kind).toBe('transient');
    expect(answer(503, '', 5000).kind).toBe('throttled');
  });

  it('keeps the tags and the tagged error, e.g. correct_offset', () => {
    const err = answer(409, dbx('lookup_failed/incorrect_offset/..', { '.tag': 'lookup_failed', lookup_failed: { '.tag': 'incorrect_offset', correct_offset: 42 } })) as DropboxError;
    expect(err.has('incorrect_offset')).toBe(true);
    expect(findTagged(err.error, 'incorrect_offset')?.correct_offset).toBe(42);
  });

  it("maps a batch entry's failure through the same table", () => {
    const err = taggedFailure({ '.tag': 'path', path: { '.tag': 'conflict', conflict: { '.tag': 'folder' } } }, 'write "x"');
    expect(err).toMatchObject({ kind: 'conflict', tags: ['path', 'conflict', 'folder'] });
    expect(tagsOf({ '.tag': 'path', reason: { '.tag': 'insufficient_space' } })).toEqual(['path', 'insufficient_space']);
    expect(taggedFailure({ '.tag': 'too_many_write_operations' }, 'w').kind).toBe('throttled');
  });
});

describe('Dropbox-API-Arg', () => {
  it('escapes every character from U+007F up, surrogate pairs as two escapes, and stays JSON', () => {
    const arg = { path: '/Æøå/🚢\x7f"q"' };
    const header = headerSafeJson(arg);
    expect(header).toMatch(/^[\x20-\x7e]+$/);
    expect(header).toContain('\\u00c6\\u00f8\\u00e5');
    expect(header).toContain('\\ud83d\\udea2');
    expect(header).toContain('\\u007f');
    expect(JSON.parse(header)).toEqual(arg);
  });
});
