import { Command } from 'commander';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { limitsRequest } from '../../cli/commands/control.js';
import { remoteCommands, remoteConfig, type RemoteFlags } from '../../cli/commands/remote.js';
import { scheduleCommands, scheduleRequest, type ScheduleFlags } from '../../cli/commands/schedule.js';
import { jobRequest, transferCommands, type TransferFlags } from '../../cli/commands/transfer.js';
import { createJobSchema } from '../../core/job.js';
import { createScheduleSchema } from '../../core/schedule.js';

/** The flags commander makes of a command line of copy/sync/move/check, through the real definitions. */
async function flagsOf(argv: string[]): Promise<{ mode: string; src: string; dst: string; flags: TransferFlags }> {
  const program = new Command().exitOverride().configureOutput({ outputError: () => {} });
  transferCommands(program);
  let seen: { mode: string; src: string; dst: string; flags: TransferFlags } | undefined;
  for (const cmd of program.commands) cmd.action((src: string, dst: string, flags: TransferFlags) => { seen = { mode: cmd.name(), src, dst, flags }; });
  await program.parseAsync(argv, { from: 'user' });
  return seen!;
}

async function bodyOf(argv: string[]) {
  const { mode, src, dst, flags } = await flagsOf(argv);
  return jobRequest(mode as 'copy', src, dst, flags);
}

describe('copy/sync/move/check flags → POST /v1/jobs', () => {
  it('sends only what was given, so the server\'s defaults apply', async () => {
    expect(await bodyOf(['copy', 'src:', 'dst:backup'])).toEqual({ source: 'src:', destination: 'dst:backup', mode: 'copy', options: {}, filters: {} });
  });

  it('maps every option flag to its name in core/job.ts', async () => {
    const body = await bodyOf(['sync', 'a:x', 'b:y', '--dry-run', '--transfers', '8', '--bwlimit', '10M', '--compare', 'checksum',
      '--conflict', 'skip', '--max-delete', '0', '--max-delete-bytes', '1G', '--allow-empty-source', '--backup-dir', 'old/2026',
      '--approve', 'auto', '--plan-max-age', '2h', '--no-verify']);
    expect(body).toEqual({
      source: 'a:x', destination: 'b:y', mode: 'sync', filters: {},
      options: { dryRun: true, transfers: 8, bwlimit: '10M', compare: 'checksum', conflict: 'skip', maxDelete: 0, maxDeleteBytes: '1G', allowEmptySource: true, backupDir: 'old/2026', approve: 'auto', planMaxAge: '2h', verify: false },
    });
    // What the API will accept: the body parses with the API's own schema.
    expect(createJobSchema.safeParse(body).success).toBe(true);
  });

  it('maps filter flags to core/filters.ts, repeatable ones to arrays', async () => {
    const body = await bodyOf(['copy', 'a:', 'b:', '--include', '*.jpg', '--include', '/Camera/**', '--exclude', '.DS_Store',
      '--folder', 'Photos/2024', '--folder', 'Docs', '--min-size', '10K', '--max-size', '2G', '--min-age', '1d', '--max-age', '30d',
      '--changed-since', '2026-01-31T00:00:00Z', '--preset', 'photos', '--preset', 'videos']);
    expect(body.filters).toEqual({
      include: ['*.jpg', '/Camera/**'], exclude: ['.DS_Store'], folders: ['Photos/2024', 'Docs'], minSize: '10K', maxSize: '2G',
      minAge: '1d', maxAge: '30d', changedSince: '2026-01-31T00:00:00Z', presets: ['photos', 'videos'],
    });
    expect(createJobSchema.safeParse(body).success).toBe(true);
  });

  it('has --download on check only', async () => {
    expect((await bodyOf(['check', 'a:', 'b:', '--download'])).options).toEqual({ download: true });
    await expect(bodyOf(['copy', 'a:', 'b:', '--download'])).rejects.toMatchObject({ code: 'commander.unknownOption' });
  });

  it('refuses bad values before sending anything (a usage error)', async () => {
    await expect(bodyOf(['copy', 'a:', 'b:', '--transfers', 'many'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    await expect(bodyOf(['copy', 'a:', 'b:', '--transfers', '0'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    await expect(bodyOf(['copy', 'a:', 'b:', '--compare', 'size'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    await expect(bodyOf(['copy', 'a:'])).rejects.toMatchObject({ code: 'commander.missingArgument' });
  });

  it('reads --detach and --interval as watch settings, not job options', async () => {
    const { flags } = await flagsOf(['copy', 'a:', 'b:', '--detach', '--interval', '0.2']);
    expect(flags).toMatchObject({ detach: true, interval: 0.2 });
    expect(jobRequest('copy', 'a:', 'b:', flags)).toEqual({ source: 'a:', destination: 'b:', mode: 'copy', options: {}, filters: {} });
  });
});

/** `knarr schedule add …` through the real definitions: the command and the flags commander makes of it. */
async function scheduleAdd(argv: string[]): Promise<{ add: Command; name: string; src: string; dst: string; flags: ScheduleFlags }> {
  const program = new Command().exitOverride().configureOutput({ outputError: () => {} });
  scheduleCommands(program);
  const schedule = program.commands.find((c) => c.name() === 'schedule')!;
  for (const c of schedule.commands) c.exitOverride().configureOutput({ outputError: () => {} });
  const add = schedule.commands.find((c) => c.name() === 'add')!;
  let seen: { name: string; src: string; dst: string; flags: ScheduleFlags } | undefined;
  add.action((name: string, src: string, dst: string, flags: ScheduleFlags) => { seen = { name, src, dst, flags }; });
  await program.parseAsync(['schedule', 'add', ...argv], { from: 'user' });
  return { add, ...seen! };
}

async function scheduleBodyOf(argv: string[]) {
  const { name, src, dst, flags } = await scheduleAdd(argv);
  return scheduleRequest(name, src, dst, flags);
}

describe('schedule add flags → POST /v1/schedules', () => {
  it('is a copy by default, and sends the time zone and overlap only when given', async () => {
    const body = await scheduleBodyOf(['nightly', 'src:', 'dst:backup', '--every', '6h']);
    expect(body).toEqual({ name: 'nightly', source: 'src:', destination: 'dst:backup', mode: 'copy', options: {}, filters: {}, every: '6h' });
    expect(createScheduleSchema.safeParse(body).success).toBe(true);
    expect(await scheduleBodyOf(['n', 'a:', 'b:', '--cron', '0 2 * * *', '--tz', 'Europe/Oslo', '--overlap', 'buffer_one', '--mode', 'sync'])).toEqual({
      name: 'n', source: 'a:', destination: 'b:', mode: 'sync', options: {}, filters: {}, cron: '0 2 * * *', timezone: 'Europe/Oslo', overlap: 'buffer_one',
    });
  });

  it('maps the option and filter flags exactly as copy does', async () => {
    const flags = ['--dry-run', '--transfers', '8', '--bwlimit', '10M', '--compare', 'checksum', '--conflict', 'skip', '--no-verify',
      '--include', '*.jpg', '--exclude', '.DS_Store', '--folder', 'Photos', '--min-size', '10K', '--max-age', '30d', '--preset', 'photos'];
    const scheduled = await scheduleBodyOf(['n', 'a:', 'b:', '--every', '1h', ...flags]);
    const copied = await bodyOf(['copy', 'a:', 'b:', ...flags]);
    expect(scheduled.options).toEqual(copied.options);
    expect(scheduled.filters).toEqual(copied.filters);
    expect(Object.keys(scheduled.options!)).toHaveLength(6);
    expect(createScheduleSchema.safeParse(scheduled).success).toBe(true);
  });

  it('has every option and filter flag of copy, and none of its watch flags', async () => {
    const program = new Command();
    transferCommands(program);
    const copyFlags = program.commands.find((c) => c.name() === 'copy')!.options.map((o) => o.long);
    const { add } = await scheduleAdd(['n', 'a:', 'b:', '--every', '1h']);
    const addFlags = add.options.map((o) => o.long);
    expect(addFlags).toEqual(expect.arrayContaining(copyFlags.filter((f) => f !== '--detach' && f !== '--interval')));
    expect(addFlags).not.toContain('--detach');
    expect(addFlags).not.toContain('--interval');
  });

  it('needs exactly one of --cron and --every (a usage error, before anything is sent)', async () => {
    await expect(scheduleBodyOf(['n', 'a:', 'b:'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('--cron') });
    await expect(scheduleBodyOf(['n', 'a:', 'b:', '--cron', '@daily', '--every', '1d'])).rejects.toMatchObject({ exitCode: 2 });
  });

  it('refuses a mode or overlap policy it does not have', async () => {
    await expect(scheduleBodyOf(['n', 'a:', 'b:', '--every', '1h', '--mode', 'check'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    await expect(scheduleBodyOf(['n', 'a:', 'b:', '--every', '1h', '--overlap', 'sometimes'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
    await expect(scheduleBodyOf(['n', 'a:', 'b:', '--every', '1h', '--detach'])).rejects.toMatchObject({ code: 'commander.unknownOption' });
  });
});

describe('remote add flags → config', () => {
  it('maps the known flags to the connectors\' config keys', () => {
    expect(remoteConfig({ token: 'tok', device: 'Jotta', mountpoint: 'Sync', jfsUrl: 'http://e/jfs/', apiUrl: 'http://e/' }, '/')).toEqual({
      loginToken: 'tok', device: 'Jotta', mountpoint: 'Sync', jfsUrl: 'http://e/jfs/', apiUrl: 'http://e/',
    });
    expect(remoteConfig({ provider: 'scaleway' }, '/')).toEqual({ provider: 'scaleway' });
  });

  it('makes a relative --root absolute from the current folder', () => {
    expect(remoteConfig({ root: 'photos' }, '/home/me')).toEqual({ root: '/home/me/photos' });
    expect(remoteConfig({ root: '/srv/x' }, '/home/me')).toEqual({ root: '/srv/x' });
  });

  it('reaches any key with --set: key=value a string, key:=json anything else; later ones win', () => {
    expect(remoteConfig({ set: ['bucket=b=1', 'forcePathStyle:=true', 'partSize:=5242880', 'region=x', 'region=eu'] }, '/')).toEqual({
      bucket: 'b=1', forcePathStyle: true, partSize: 5242880, region: 'eu',
    });
    expect(() => remoteConfig({ set: ['novalue'] }, '/')).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(() => remoteConfig({ set: ['n:={bad'] }, '/')).toThrow(/not JSON/);
  });

  it('takes a key\'s value from a file with --set-file key=path (an SSH private key), never showing the text in an error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'knarr-cli-set-file-'));
    try {
      const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
      await writeFile(join(dir, 'id_ed25519'), key, { mode: 0o600 });
      // Through commander, as a user types it: relative to the current folder, beside --set.
      const program = new Command().exitOverride().configureOutput({ outputError: () => {} });
      remoteCommands(program);
      let flags: RemoteFlags | undefined;
      program.commands.find((c) => c.name() === 'remote')!.commands.find((c) => c.name() === 'add')!.action((_n: string, _t: string, f: RemoteFlags) => { flags = f; });
      await program.parseAsync(['remote', 'add', 'nas', 'sftp', '--set', 'host=nas.example.com', '--set', 'port:=2222', '--set-file', 'privateKey=id_ed25519'], { from: 'user' });
      expect(remoteConfig(flags!, dir)).toEqual({ host: 'nas.example.com', port: 2222, privateKey: key });
      // The text as it is, trailing newline included; an absolute path; ~/ is the home folder.
      expect(remoteConfig({ setFile: [`ca=${join(dir, 'id_ed25519')}`] }, '/')).toEqual({ ca: key });
      expect(remoteConfig({ setFile: [`privateKey=~/${relative(homedir(), join(dir, 'id_ed25519'))}`] }, '/')).toEqual({ privateKey: key });

      expect(() => remoteConfig({ setFile: ['privateKey'] }, dir)).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringMatching(/write key=path/) }));
      expect(() => remoteConfig({ setFile: ['privateKey=missing'] }, dir)).toThrow(expect.objectContaining({ exitCode: 2, message: `--set-file privateKey: cannot read ${join(dir, 'missing')} (ENOENT)` }));
      // A folder is unreadable as text: the reason, not its content, is shown.
      expect(() => remoteConfig({ setFile: [`privateKey=${dir}`] }, '/')).toThrow(/cannot read .* \(EISDIR\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lists every connector type in the help of remote add, and says how to give a key file', () => {
    const program = new Command();
    remoteCommands(program);
    const add = program.commands.find((c) => c.name() === 'remote')!.commands.find((c) => c.name() === 'add')!;
    let help = '';
    add.configureOutput({ writeOut: (s) => { help += s; }, getOutHelpWidth: () => 1000 }).outputHelp();
    expect(help).toContain('local, jottacloud, s3, webdav, sftp, ftp');
    expect(help).toMatch(/--set-file <key=path>\s+a config key whose value is the text of a file/);
    expect(help).toContain('--set-file privateKey=~/.ssh/id_ed25519');
  });
});

describe('limits flags → POST /v1/runs/{id}/limits', () => {
  it('sends what was given; off lifts the bandwidth limit', () => {
    expect(limitsRequest({ transfers: 2 })).toEqual({ transfers: 2 });
    expect(limitsRequest({ bwlimit: '5M' })).toEqual({ bwlimit: '5M' });
    expect(limitsRequest({ transfers: 8, bwlimit: 'off' })).toEqual({ transfers: 8, bwlimit: null });
    expect(() => limitsRequest({})).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});
