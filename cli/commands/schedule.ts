import { Option, type Command } from 'commander';
import type { z } from 'zod';
import { jobOptionsSchema } from '../../core/job.js';
import type { RunView } from '../../core/run.js';
import { overlapPolicies, type createScheduleSchema, type OverlapPolicy } from '../../core/schedule.js';
import { CliError, collect as collectAll, paginate, usageError, type ApiClient } from '../client.js';
import { exitCodes } from '../exitCodes.js';
import { formatBytes, formatDateTime, formatPairs, formatTable } from '../format.js';
import { act, context } from './common.js';
import { jobFlags, jobRequest, type JobFlags } from './transfer.js';

export type ScheduleBody = z.input<typeof createScheduleSchema>;

/** The modes a schedule runs; a check writes nothing, so there is no backup to keep up to date. */
const scheduleModes = ['copy', 'sync', 'move'] as const;

export interface ScheduleFlags extends JobFlags {
  mode: (typeof scheduleModes)[number];
  cron?: string;
  every?: string;
  tz?: string;
  overlap?: OverlapPolicy;
}

export type ScheduledRun = Pick<RunView, 'id' | 'state' | 'files' | 'bytes' | 'startedAt' | 'finishedAt'>;

/** What GET /v1/schedules/{id} answers (api/routes/schedules.ts). */
export interface ScheduleView {
  id: string;
  name: string;
  jobId: string;
  source: string | null;
  destination: string | null;
  mode: string | null;
  options: Record<string, unknown> | null;
  filters: Record<string, unknown> | null;
  cron: string | null;
  every: string | null;
  timezone: string;
  overlap: OverlapPolicy;
  state: 'active' | 'paused' | 'missing';
  note: string | null;
  nextRuns: string[];
  recentRuns: ScheduledRun[];
  createdAt: string;
}

/**
 * `POST /v1/schedules` from a command line: the job's body as copy would send it, and when to run
 * it. Time zone and overlap go only when given, so the server's defaults (UTC, skip) apply.
 */
export function scheduleRequest(name: string, source: string, destination: string, f: ScheduleFlags): ScheduleBody {
  if ((f.cron === undefined) === (f.every === undefined)) throw usageError('say when to run it: --cron \'0 2 * * *\' or --every 6h, one of the two');
  return {
    name,
    ...jobRequest(f.mode, source, destination, f),
    ...(f.cron !== undefined ? { cron: f.cron } : { every: f.every }),
    ...(f.tz !== undefined ? { timezone: f.tz } : {}),
    ...(f.overlap !== undefined ? { overlap: f.overlap } : {}),
  };
}

/**
 * The schedule a command names, by name or id. The API takes ids only; a name is looked up in
 * the caller's schedules, which are few.
 */
export async function findSchedule(client: ApiClient, ref: string): Promise<ScheduleView> {
  for await (const s of paginate<ScheduleView>(client, '/v1/schedules', {}, 100)) if (s.name === ref || s.id === ref) return s;
  throw new CliError(`no schedule named "${ref}" ("knarr schedule ls" lists them)`, exitCodes.notFound);
}

const schedulePath = (s: ScheduleView, action = '') => `/v1/schedules/${encodeURIComponent(s.id)}${action ? `/${action}` : ''}`;

/** `every 6h` or `cron 0 2 * * *`. */
const whenOf = (s: ScheduleView) => (s.cron !== null ? `cron ${s.cron}` : `every ${s.every}`);

const lastRunOf = (s: ScheduleView) => {
  const last = s.recentRuns[0];
  return last ? `${last.state} ${formatDateTime(last.startedAt)}` : '-';
};

export function scheduleRow(s: ScheduleView): string[] {
  return [s.name, s.state, whenOf(s), s.timezone, s.nextRuns[0] ? formatDateTime(s.nextRuns[0]) : '-', lastRunOf(s)];
}

/** Only the options that differ from the defaults: the job stores them all. */
function chosenOptions(options: Record<string, unknown>): Record<string, unknown> {
  const defaults = jobOptionsSchema.parse({}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(options).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(defaults[k])));
}

/** `knarr schedule show`: one fact a line, then the upcoming times and the recent runs. */
export function describeSchedule(s: ScheduleView): string[] {
  const state = s.state === 'missing'
    ? `missing: Temporal no longer has it; "knarr schedule rm ${s.name}" and add it again`
    : s.state === 'paused' ? `paused${s.note ? ` (${s.note})` : ''}; "knarr schedule unpause ${s.name}" starts it again` : 'active';
  const lines: [string, string][] = [
    ['schedule', `${s.name} (id ${s.id})`],
    ['state', state],
    ['when', `${whenOf(s)}, time zone ${s.timezone}; overlapping runs: ${s.overlap}`],
    ['job', s.source === null ? s.jobId : `${s.jobId}: ${s.mode} ${s.source} → ${s.destination}`],
  ];
  const options = s.options ? chosenOptions(s.options) : {};
  if (Object.keys(options).length) lines.push(['options', formatPairs(options)]);
  const filters = Object.fromEntries(Object.entries(s.filters ?? {}).filter(([, v]) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)));
  if (Object.keys(filters).length) lines.push(['filters', formatPairs(filters)]);
  lines.push(['created', formatDateTime(s.createdAt)]);
  lines.push(['next runs', s.nextRuns.length ? s.nextRuns.map(formatDateTime).join(', ') : 'none']);
  const width = Math.max(...lines.map(([k]) => k.length));
  const out = lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (s.recentRuns.length === 0) return [...out, 'no runs yet'];
  const rows = s.recentRuns.map((r) => [r.id, r.state, `${r.files.done}/${r.files.total}`, formatBytes(r.bytes.sent), formatDateTime(r.startedAt), r.finishedAt ? formatDateTime(r.finishedAt) : '-']);
  return [...out, 'recent runs:', ...formatTable(['ID', 'STATE', 'FILES', 'SENT', 'STARTED', 'FINISHED'], rows, [2, 3]).map((l) => `  ${l}`)];
}

export function scheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('run a job on a timetable: add, list, show, pause, unpause, trigger and remove schedules');
  const ref = (cmd: Command) => cmd.argument('<schedule>', 'its name or id');

  jobFlags(schedule.command('add')
    .description('run a copy (or sync, or move) from SRC to DST at set times; each run sends only what changed')
    .argument('<name>', 'a name for it, such as nightly-photos')
    .argument('<src>', 'source location, remote:path')
    .argument('<dst>', 'destination location, remote:path')
    .option('--cron <expr>', 'when, as minute hour day month weekday, such as \'0 2 * * *\' (or @daily, @hourly …)')
    .option('--every <duration>', 'how often instead, such as 6h or 30m')
    .option('--tz <zone>', 'the time zone its times are read in, such as Europe/Oslo (default UTC)')
    .addOption(new Option('--overlap <policy>', 'when a run is due while the last one still goes: skip it, buffer one, or allow all (default skip)').choices(overlapPolicies))
    .addOption(new Option('--mode <mode>', 'what each run does').choices(scheduleModes).default('copy')))
    .addHelpText('after', '\nExamples:\n  knarr schedule add nightly photos: jotta:Backup/photos --cron \'0 2 * * *\' --tz Europe/Oslo\n  knarr schedule add docs docs: nas:docs --every 6h --preset documents')
    .action(act(async (name: string, src: string, dst: string, flags: ScheduleFlags, cmd: Command) => {
      const body = scheduleRequest(name, src, dst, flags);
      const { client, out } = context(cmd);
      const made = await client.startWork<ScheduleView>('/v1/schedules', body);
      out.result(made, () => [
        `added schedule ${made.name} (id ${made.id}): ${whenOf(made)}, time zone ${made.timezone}; ${made.mode} ${made.source} → ${made.destination}`,
        `next runs: ${made.nextRuns.length ? made.nextRuns.map(formatDateTime).join(', ') : 'none'}`,
      ]);
      return exitCodes.ok;
    }));

  schedule.command('ls')
    .description('list the schedules')
    .action(act(async (_flags: object, cmd: Command) => {
      const { client, out } = context(cmd);
      const all = await collectAll(paginate<ScheduleView>(client, '/v1/schedules', {}, 100));
      out.result(all, () => formatTable(['NAME', 'STATE', 'SCHEDULE', 'TZ', 'NEXT', 'LAST-RUN'], all.map(scheduleRow)));
      return exitCodes.ok;
    }));

  ref(schedule.command('show').description('a schedule, its next run times and its recent runs'))
    .action(act(async (name: string, _flags: object, cmd: Command) => {
      const { client, out } = context(cmd);
      const s = await findSchedule(client, name);
      out.result(s, () => describeSchedule(s));
      return exitCodes.ok;
    }));

  ref(schedule.command('pause').description('start no more runs until unpaused (a run already going goes on)'))
    .option('--note <text>', 'why, shown by "knarr schedule show"')
    .action(act(async (name: string, flags: { note?: string }, cmd: Command) => {
      const { client, out } = context(cmd);
      const s = await findSchedule(client, name);
      const paused = await client.post<ScheduleView>(schedulePath(s, 'pause'), flags.note !== undefined ? { note: flags.note } : {});
      out.result(paused, () => [`paused schedule ${s.name}; "knarr schedule unpause ${s.name}" starts it again`]);
      return exitCodes.ok;
    }));

  ref(schedule.command('unpause').description('run a paused schedule again at its times'))
    .action(act(async (name: string, _flags: object, cmd: Command) => {
      const { client, out } = context(cmd);
      const s = await findSchedule(client, name);
      const active = await client.post<ScheduleView>(schedulePath(s, 'unpause'));
      out.result(active, () => [`unpaused schedule ${s.name}${active.nextRuns[0] ? `; next run ${formatDateTime(active.nextRuns[0])}` : ''}`]);
      return exitCodes.ok;
    }));

  ref(schedule.command('trigger').description('run it now, as if its time had come'))
    .action(act(async (name: string, _flags: object, cmd: Command) => {
      const { client, out } = context(cmd);
      const s = await findSchedule(client, name);
      const triggered = await client.startWork<ScheduleView>(schedulePath(s, 'trigger'));
      const unless = s.overlap === 'allow_all' ? '' : s.overlap === 'skip' ? ' unless one is still going (overlap skip)' : ', or when the one going has ended (overlap buffer_one)';
      out.result(triggered, () => [`triggered schedule ${s.name}: a run starts now${unless}; "knarr schedule show ${s.name}" lists its runs`]);
      return exitCodes.ok;
    }));

  ref(schedule.command('rm').description('remove a schedule; its job and the runs it made stay'))
    .action(act(async (name: string, _flags: object, cmd: Command) => {
      const { client, out } = context(cmd);
      const s = await findSchedule(client, name);
      // 204, no body: with --json stdout stays empty and the exit code says it went.
      await client.request('DELETE', schedulePath(s));
      out.line(`removed schedule ${s.name}; its job and runs stay ("knarr runs --job ${s.jobId}")`);
      return exitCodes.ok;
    }));
}
