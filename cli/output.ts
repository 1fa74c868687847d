/**
 * Where a command's results go. With --json stdout carries the API's JSON answer and nothing
 * else, so a script can pipe it into jq; people get lines. Errors and notes go to stderr.
 */
export interface Output {
  readonly json: boolean;
  readonly isTty: boolean;
  readonly errIsTty: boolean;
  /** A line for people on stdout (not with --json). */
  line(text: string): void;
  /** A line on stderr. */
  err(text: string): void;
  /** The command's result: `value` as JSON with --json, else the lines `human` makes of it. */
  result(value: unknown, human: () => string[]): void;
}

export function processOutput(json: boolean): Output {
  return {
    json,
    isTty: Boolean(process.stdout.isTTY),
    errIsTty: Boolean(process.stderr.isTTY),
    line: (text) => {
      if (!json) process.stdout.write(`${text}\n`);
    },
    err: (text) => {
      process.stderr.write(`${text}\n`);
    },
    result: (value, human) => {
      if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      else for (const l of human()) process.stdout.write(`${l}\n`);
    },
  };
}
