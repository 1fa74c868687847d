import { describe, expect, it } from 'vitest';
import { ConnectorError } from '../../connectors/errors.js';
import { authMessage, classifyJottaFailure, jottaKind, jottaStatusMapper } from '../../connectors/jottacloud/errors.js';

const jfsError = (code: number, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><error><code>${code}</code><message>${message}</message><reason>x</reason><cause></cause><hostname>dn-1</hostname><x-id>1</x-id></error>`;
const apiError = (code: number, errorId: string, message = 'm') => JSON.stringify({ code, message, cause: '', error_id: errorId, 'x-id': '1' });

const map = jottaStatusMapper('jotta');
const err = (status: number, bodyText = '', retryAfterMs?: number): ConnectorError => map({ status, headers: {}, bodyText, op: 'op "x"', retryAfterMs });

describe('the Jottacloud status table (§9.2)', () => {
  it('maps every status the spec lists to one kind', () => {
    const table: [number, string][] = [
      [400, 'unsupported'],
      [401, 'auth'],
      [403, 'auth'],
      [404, 'not_found'],
      [405, 'unsupported'],
      [408, 'transient'],
      [409, 'conflict'],
      [413, 'too_large'],
      [416, 'unsupported'],
      [420, 'transient'],
      [421, 'corrupt'],
      [429, 'throttled'],
      [460, 'quota_exceeded'],
      [500, 'transient'],
      [502, 'transient'],
      [503, 'transient'],
      [504, 'transient'],
      [507, 'quota_exceeded'],
      [509, 'throttled'],
      [599, 'transient'],
      [418, 'unsupported'],
    ];
    for (const [status, kind] of table) expect(jottaKind({ status, message: '' }), String(status)).toBe(kind);
  });

  it('reads the JFS XML exception (§9.1) before the status', () => {
    expect(err(404, jfsError(404, 'no.jotta.backup.errors.NoSuchFileException: File /u/Jotta/Archive/x does not exist')).kind).toBe('not_found');
    expect(err(404, jfsError(404, 'no.jotta.backup.errors.NoSuchMountPointException: Mount point /u/Jotta/Nope does not exist')).message).toMatch(/mountpoint setting/);
    expect(err(500, jfsError(500, 'org.springframework.dao.TransientDataAccessResourceException: PreparedStatementCallback; Packet for query is too large')).kind).toBe('unsupported');
    expect(err(401, jfsError(401, 'org.springframework.security.authentication.AuthenticationCredentialsNotFoundException: Token mismatch!')).kind).toBe('auth');
  });

  it('reads the api JSON error_id (§9.1)', () => {
    expect(err(421, apiError(421, 'CorruptUploadOpenApiException', 'checksum mismatch')).kind).toBe('corrupt');
    expect(err(420, apiError(420, 'IncompleteUploadOpenApiException')).kind).toBe('transient');
    expect(err(460, apiError(460, 'QuotaExceededException')).kind).toBe('quota_exceeded');
    // The api's `code` is not always the HTTP status; the error_id decides.
    expect(err(400, apiError(0, 'UniqueFileException')).kind).toBe('conflict');
  });

  it('tells the meanings of 400 apart by message', () => {
    const long = jfsError(400, 'no.jotta.backup.errors.InvalidArgumentException: JFS file names may not be longer than 255 characters');
    expect(err(400, long).kind).toBe('invalid_name');
    expect(err(400, apiError(400, 'InvalidArgumentException', 'JFS file names may not be longer than 255 characters')).kind).toBe('invalid_name');
    expect(err(400, jfsError(400, 'java.lang.IllegalArgumentException: Unable to validate decoded path: /my+email@example.com')).kind).toBe('invalid_name');
    expect(err(400, apiError(400, 'InvalidArgumentException', 'A folder exists at that path')).kind).toBe('conflict');
    expect(err(400, jfsError(400, 'no.jotta.backup.errors.InvalidArgumentException: Target /u/Jotta/Archive/b already exists')).kind).toBe('conflict');
    expect(err(400, apiError(400, 'InvalidArgumentException', 'md5 is required')).kind).toBe('unsupported');
  });

  it('marks 429 and 509 as account-wide throttling and keeps Retry-After', () => {
    const e = err(429, apiError(429, 'TooManyRequestsException'), 7000);
    expect(e).toMatchObject({ kind: 'throttled', scope: 'account', retryAfterMs: 7000, status: 429 });
    expect(e.retryable).toBe(true);
    expect(err(429).retryAfterMs).toBeUndefined();
    expect(err(509).kind).toBe('throttled');
  });

  it('takes a 503 with Retry-After as throttling, without as transient', () => {
    expect(err(503, '', 30_000)).toMatchObject({ kind: 'throttled', retryAfterMs: 30_000 });
    expect(err(503).kind).toBe('transient');
  });

  it('maps OAuth errors of the token endpoint (§9.1, §2.5) to auth', () => {
    const body = JSON.stringify({ error: 'invalid_grant', error_description: "Session doesn't have required client" });
    expect(classifyJottaFailure({ status: 400, exception: 'invalid_grant', message: '' }).kind).toBe('auth');
    expect(err(400, body).kind).toBe('auth');
    expect(err(401, JSON.stringify({ error: 'invalid_client' })).kind).toBe('auth');
  });

  it('tells the user what to do, naming the remote', () => {
    const e = err(401, jfsError(401, 'org.springframework.security.authentication.BadCredentialsException: Bad credentials'));
    expect(e.kind).toBe('auth');
    expect(e.message).toContain('remote "jotta"');
    expect(e.message).toContain('Personal Login Token');
    expect(e.message).toContain('Account → Security');
    expect(authMessage('nas', 'x')).toMatch(/update the remote "nas"/);
  });

  it('keeps bodies that are neither XML nor JSON, shortened', () => {
    const e = err(502, `<html>${'x'.repeat(1000)}</html>`);
    expect(e.kind).toBe('transient');
    expect(e.message.length).toBeLessThan(400);
  });
});
