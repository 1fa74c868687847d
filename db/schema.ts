import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, customType, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { Hashes } from '../core/entry.js';
import type { JobFilters } from '../core/filters.js';
import type { JobOptions } from '../core/job.js';
import type { ItemAction, RunPlan, RunWaiting } from '../core/run.js';

/** postgres.js returns bytea as a Buffer, PGlite as a plain Uint8Array: hand back a Buffer from both. */
const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)),
});
/** Byte counts pass 2^31 on the first large file: bigint, read back as a JS number (safe to 2^53). */
const bytes = (name: string) => bigint(name, { mode: 'number' });

/**
 * Who owns what: every remote, job and run belongs to one user. The admin is a user too, made
 * by the migration that brought users in, so data from before then has an owner.
 */
export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  isAdmin: boolean('is_admin').notNull().default(false),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [uniqueIndex('users_name_key').on(t.name)]);

/** API keys, stored only as their keyed hash (api/keys.ts): a key is shown once, when made. */
export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey().defaultRandom(),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  hash: bytea('hash').notNull(),
  /** The key's first characters, so a user can tell keys apart in a list. */
  prefix: text('prefix').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
}, (t) => [uniqueIndex('api_keys_hash_key').on(t.hash), index('api_keys_user_idx').on(t.userId)]);

export const remotes = pgTable('remotes', {
  id: uuid('id').primaryKey().defaultRandom(),
  ownerId: uuid('owner_id').notNull().references(() => users.id),
  name: text('name').notNull(),
  type: text('type').notNull(),
  /** Settings without secrets. */
  config: jsonb('config').$type<Record<string, unknown>>().notNull().default({}),
  /** AES-256-GCM sealed JSON of the secrets (db/credentials.ts); null when the type has none. */
  credentials: bytea('credentials'),
  /** Bumped on each credential write, so a worker can tell its cached token is stale. */
  credentialsVersion: integer('credentials_version').notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [uniqueIndex('remotes_owner_name_key').on(t.ownerId, t.name)]);

export const jobs = pgTable('jobs', {
  id: uuid('id').primaryKey().defaultRandom(),
  ownerId: uuid('owner_id').notNull().references(() => users.id),
  sourceRemoteId: uuid('source_remote_id').notNull().references(() => remotes.id),
  sourcePath: text('source_path').notNull(),
  destRemoteId: uuid('dest_remote_id').notNull().references(() => remotes.id),
  destPath: text('dest_path').notNull(),
  mode: text('mode').notNull(),
  options: jsonb('options').$type<JobOptions>().notNull(),
  /** Normalised when the job was created (core/filters.ts): sizes in bytes, ages in ms. */
  filters: jsonb('filters').$type<JobFilters>().notNull().default({}),
  /**
   * Where the source's change feed stood when the last run that completed without a failed file
   * began its plan: the next run plans from the changes since then instead of walking the tree.
   */
  changeCursor: text('change_cursor'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [index('jobs_owner_idx').on(t.ownerId, t.id)]);

export const runs = pgTable('runs', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** The job's owner, kept on the run so a list of one user's runs needs no join. */
  ownerId: uuid('owner_id').notNull().references(() => users.id),
  jobId: uuid('job_id').notNull().references(() => jobs.id),
  workflowId: text('workflow_id').notNull(),
  state: text('state').notNull().default('queued'),
  phase: text('phase').notNull().default('plan'),
  filesTotal: integer('files_total').notNull().default(0),
  filesDone: integer('files_done').notNull().default(0),
  filesFailed: integer('files_failed').notNull().default(0),
  filesSkipped: integer('files_skipped').notNull().default(0),
  /** Files the destination already had byte for byte (Jottacloud answers an allocate with COMPLETED): nothing sent. */
  filesDeduplicated: integer('files_deduplicated').notNull().default(0),
  bytesTotal: bytes('bytes_total').notNull().default(0),
  bytesDone: bytes('bytes_done').notNull().default(0),
  batchCount: integer('batch_count').notNull().default(0),
  /** Bytes read from the source and written to the destination; server-side moves and copies send none. */
  bytesSent: bytes('bytes_sent').notNull().default(0),
  /** Files moved: sync's renames done on the destination, move mode's sources deleted after their copy verified. */
  filesMoved: integer('files_moved').notNull().default(0),
  /** Files deleted from the destination by sync (to the trash, or to backupDir). */
  filesDeleted: integer('files_deleted').notNull().default(0),
  /** The stored plan of a dry run or a sync with deletes: its digest and groups (core/run.ts RunPlan). */
  plan: jsonb('plan').$type<RunPlan>(),
  /**
   * [ms since epoch, bytes done] pairs at least 5 s apart, the last minute's: the base of the
   * current speed (a moving average over 30 s), written with the counters they sample.
   */
  samples: jsonb('samples').$type<[number, number][]>().notNull().default([]),
  /** Why the run waits, while it does (throttled, needs_reconnect, needs_attention): core/run.ts RunWaiting. */
  waiting: jsonb('waiting').$type<RunWaiting>(),
  /** The source's change-feed position this run's plan starts from; the job's once the run completes. */
  nextChangeCursor: text('next_change_cursor'),
  /** Planned from the source's change feed (the changes since the job's cursor), not from a walk of both trees. */
  plannedFromChanges: boolean('planned_from_changes').notNull().default(false),
  error: text('error'),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  /** When bytes started moving: the base of speed and ETA. */
  copyStartedAt: timestamp('copy_started_at', { withTimezone: true }),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  index('runs_job_idx').on(t.jobId),
  index('runs_owner_started_idx').on(t.ownerId, t.startedAt, t.id),
  // A run a schedule started is made by its workflow's first activity, which may run twice.
  uniqueIndex('runs_workflow_id_key').on(t.workflowId),
]);

/**
 * A job run again and again by a Temporal Schedule (`temporalId`): a cron or an interval in a
 * time zone. The schedule's own state (paused, next times, recent actions) lives in Temporal.
 */
export const schedules = pgTable('schedules', {
  id: uuid('id').primaryKey().defaultRandom(),
  ownerId: uuid('owner_id').notNull().references(() => users.id),
  name: text('name').notNull(),
  jobId: uuid('job_id').notNull().references(() => jobs.id),
  cron: text('cron'),
  /** An interval such as "6h", when not a cron. */
  every: text('every'),
  timezone: text('timezone').notNull(),
  overlap: text('overlap').notNull(),
  temporalId: text('temporal_id').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [uniqueIndex('schedules_owner_name_key').on(t.ownerId, t.name), index('schedules_job_idx').on(t.jobId)]);

/** Listing rows captured while planning; `side` is 'src' or 'dst'. Paths are relative to the job's location. */
export const entries = pgTable('entries', {
  runId: uuid('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
  side: text('side').notNull(),
  path: text('path').notNull(),
  isDir: boolean('is_dir').notNull(),
  size: bytes('size').notNull(),
  mtimeMs: bytes('mtime_ms').notNull(),
  hashes: jsonb('hashes').$type<Hashes>().notNull().default({}),
  /** A directory whose children are all in this table: the planning cursor that a cut listing resumes from. */
  listed: boolean('listed').notNull().default(false),
}, (t) => [
  primaryKey({ columns: [t.runId, t.side, t.path] }),
  index('entries_unlisted_idx').on(t.runId, t.side, t.path).where(sql`${t.isDir} AND NOT ${t.listed}`),
]);

/** The per-file ledger of a run. */
export const items = pgTable('items', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  runId: uuid('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
  path: text('path').notNull(),
  action: text('action').$type<ItemAction>().notNull(),
  state: text('state').notNull().default('pending'),
  /** Small files share a batch; a large file has one to itself. */
  batch: integer('batch').notNull().default(0),
  large: boolean('large').notNull().default(false),
  /**
   * compare=checksum and the destination has a file of the same size whose hash no listing gave:
   * both sides are hashed before copying, and an equal file is not sent.
   */
  checkFirst: boolean('check_first').notNull().default(false),
  /** Where the file goes when not to `path` (conflict=rename keeps both); relative to the job's destination. */
  dstPath: text('dst_path'),
  /** action=move: the destination file moved server-side to `path` instead of uploading it again (a rename at the source). */
  fromPath: text('from_path'),
  /** action=delete of a folder only the destination has: removed after the files, and only if empty then (filtered-out files stay). */
  isDir: boolean('is_dir').notNull().default(false),
  /** action=copy over a destination file that differs: the plan's `overwrite` group (backupDir keeps the old one). */
  replaces: boolean('replaces').notNull().default(false),
  size: bytes('size').notNull(),
  mtimeMs: bytes('mtime_ms').notNull(),
  bytesDone: bytes('bytes_done').notNull().default(0),
  /** The connector's UploadState of an unfinished upload (never a secret URL; see upload_sessions later). */
  uploadState: jsonb('upload_state').$type<Record<string, unknown>>(),
  srcHashes: jsonb('src_hashes').$type<Hashes>().notNull().default({}),
  dstHashes: jsonb('dst_hashes').$type<Hashes>().notNull().default({}),
  attempts: integer('attempts').notNull().default(0),
  /** Attempts at this file a provider's throttle stopped (each also an event of the run). */
  throttles: integer('throttles').notNull().default(0),
  /** Verify mismatches re-copied so far. */
  recopies: integer('recopies').notNull().default(0),
  lastError: text('last_error'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [
  uniqueIndex('items_run_path_key').on(t.runId, t.path),
  index('items_run_batch_idx').on(t.runId, t.batch),
  index('items_run_state_idx').on(t.runId, t.state),
]);

/** The audit trail of a run: throttles, auth trouble, retries, resumes, verify results. */
export const events = pgTable('events', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  runId: uuid('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
  at: timestamp('at', { withTimezone: true }).notNull().default(sql`now()`),
  kind: text('kind').notNull(),
  message: text('message').notNull(),
  data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
}, (t) => [index('events_run_idx').on(t.runId, t.id)]);

/**
 * Answers to POSTs that start work, by the caller's `Idempotency-Key`, for 24 hours: the same key
 * again gets the first answer and starts nothing new. `status` is null while the first request is
 * still being answered.
 */
export const idempotencyKeys = pgTable('idempotency_keys', {
  ownerId: uuid('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  key: text('key').notNull(),
  /** "METHOD path" and a hash of the body: the same key for another request is refused. */
  request: text('request').notNull(),
  status: integer('status'),
  body: jsonb('body'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.ownerId, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)]);

/**
 * An authorization in flight (the OAuth connect flow): the `state` sent to the provider's consent
 * page, bound to the user who asked and to what the callback will make (a new remote, or new
 * tokens for one), until it is used or expires. Secrets the user gave with the request (their
 * own OAuth client's secret) are sealed for `remoteId`, the id the remote will have.
 */
export const oauthStates = pgTable('oauth_states', {
  state: text('state').primaryKey(),
  ownerId: uuid('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  /** The remote to make (`create`) or to give new tokens (`reconnect`). */
  purpose: text('purpose').notNull(),
  remoteName: text('remote_name').notNull(),
  remoteId: uuid('remote_id').notNull(),
  type: text('type').notNull(),
  /** The remote's settings, without secrets. */
  config: jsonb('config').$type<Record<string, unknown>>().notNull(),
  secrets: bytea('secrets'),
  redirectUri: text('redirect_uri').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [index('oauth_states_expires_idx').on(t.expiresAt)]);

/**
 * A signed-in browser (the dashboard): the cookie's token is kept only as its hash, bound to the
 * API key the person signed in with, so revoking the key ends the session too. `csrf` is the
 * token every changing request from the page must echo in a header.
 */
export const uiSessions = pgTable('ui_sessions', {
  tokenHash: bytea('token_hash').primaryKey(),
  apiKeyId: uuid('api_key_id').notNull().references(() => apiKeys.id, { onDelete: 'cascade' }),
  csrf: text('csrf').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [index('ui_sessions_expires_idx').on(t.expiresAt)]);
