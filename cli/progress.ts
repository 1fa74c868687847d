import cliProgress from 'cli-progress';
import type { RunView } from '../core/run.js';
import { formatBytes } from './format.js';
import { filesAndBytes, statusLine } from './runText.js';

/** What a watch shows while it polls a run: bars on a terminal, plain lines anywhere else. */
export interface Display {
  update(run: RunView): void;
  /** A line that stays (the plan), printed above the bars. */
  log(line: string): void;
  /** A problem of the watch itself (the server did not answer), on stderr where bars do not own the screen. */
  warn(line: string): void;
  stop(): void;
}

/**
 * For logs and pipes: a line whenever the run moves on (files, bytes, state, the reason it
 * waits), and every `quietMs` while it does not, so a log shows the watch is alive. The speed
 * and the ETA alone, which change at every poll, print no line.
 */
export class PlainDisplay implements Display {
  private lastKey = '';
  private lastAt = -Infinity;
  constructor(
    private readonly write: (line: string) => void,
    private readonly writeErr: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
    private readonly quietMs = 30_000,
    private readonly now = () => Date.now(),
  ) {}

  update(run: RunView): void {
    const key = statusLine({ ...run, speed: { current: null, average: null }, speedBytesPerSec: null, etaSeconds: null });
    if (key === this.lastKey && this.now() - this.lastAt < this.quietMs) return;
    this.lastKey = key;
    this.lastAt = this.now();
    this.write(statusLine(run));
  }

  log(line: string): void {
    this.write(line);
  }

  warn(line: string): void {
    this.writeErr(line);
  }

  stop(): void {}
}

type BarPayload = { text: string };
type Bar = ReturnType<cliProgress.MultiBar['create']>;

const withBar: cliProgress.GenericFormatter = (options, params, payload: BarPayload) =>
  `${cliProgress.Format.BarFormat(params.progress, options)} ${String(Math.floor(params.progress * 100)).padStart(3)}% ${payload.text}`;
const textOnly: cliProgress.GenericFormatter = (_options, _params, payload: BarPayload) => payload.text;

/**
 * For a terminal: the run's bar (bytes, or files while no bytes are known) with its status
 * line, then one bar per large file in flight, and a line saying why the run waits.
 */
export class TtyDisplay implements Display {
  private readonly bars: cliProgress.MultiBar;
  private run: Bar | null = null;
  private waiting: Bar | null = null;
  private readonly files = new Map<string, Bar>();

  constructor(private readonly stream: NodeJS.WriteStream) {
    this.bars = new cliProgress.MultiBar({
      stream,
      format: withBar,
      barsize: 24,
      hideCursor: true,
      // The watch owns Ctrl-C: it stops the bars itself and says the run goes on.
      gracefulExit: false,
      linewrap: false,
      emptyOnZero: true,
      // The summary line that follows says how it ended.
      clearOnComplete: true,
    }, cliProgress.Presets.shades_classic);
  }

  update(run: RunView): void {
    const byBytes = run.bytes.total > 0;
    const total = byBytes ? run.bytes.total : run.files.total;
    const value = byBytes ? run.bytes.done : run.files.done;
    const waits = run.waiting !== null || ['paused', 'awaiting_approval', 'needs_reconnect', 'needs_attention'].includes(run.state);
    const text = waits ? `${run.state.replace(/_/g, ' ')} at ${filesAndBytes(run)}` : statusLine(run);
    if (!this.run) this.run = this.bars.create(total, value, { text });
    this.run.setTotal(total);
    this.run.update(value, { text });

    if (waits && !this.waiting) this.waiting = this.bars.create(1, 0, { text: statusLine(run) }, { format: textOnly });
    else if (waits) this.waiting!.update(0, { text: statusLine(run) });
    else if (this.waiting) {
      this.bars.remove(this.waiting);
      this.waiting = null;
    }

    const now = new Set((run.inFlight ?? []).map((f) => f.path));
    for (const [path, bar] of this.files) {
      if (!now.has(path)) {
        this.bars.remove(bar);
        this.files.delete(path);
      }
    }
    for (const f of run.inFlight ?? []) {
      const payload = { text: `${formatBytes(f.bytesDone)}/${formatBytes(f.size)}  ${f.path}` };
      const bar = this.files.get(f.path);
      if (bar) bar.update(f.bytesDone, payload);
      else this.files.set(f.path, this.bars.create(f.size, f.bytesDone, payload));
    }
    this.bars.update();
  }

  log(line: string): void {
    // The bars print what was logged when they redraw; before the first bar nothing redraws.
    if (this.bars.isActive) this.bars.log(`${line}\n`);
    else this.stream.write(`${line}\n`);
  }

  warn(line: string): void {
    this.log(line);
  }

  stop(): void {
    this.bars.stop();
  }
}
