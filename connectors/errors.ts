/**
 * Every provider failure becomes one of these kinds, through one status table per connector.
 * The engine decides retry, wait or fail from the kind alone.
 */
export const connectorErrorKinds = [
  'auth',
  /** This one item may not be read or written (a permission, a read-only filesystem); the credential itself is fine. */
  'forbidden',
  'throttled',
  'not_found',
  'conflict',
  'quota_exceeded',
  'invalid_name',
  'too_large',
  'corrupt',
  'transient',
  'unsupported',
] as const;
export type ConnectorErrorKind = (typeof connectorErrorKinds)[number];

/** How wide a throttle is: one request, the whole account, or a daily quota that resets. */
export type ThrottleScope = 'request' | 'account' | 'daily_quota';

export interface ConnectorErrorOptions {
  /** From Retry-After or the provider's own hint. */
  retryAfterMs?: number;
  scope?: ThrottleScope;
  /** Provider status code, for the events log. */
  status?: number;
  cause?: unknown;
}

/** One row of a connector's status table: the kind, how wide a throttle is, and what the message says. */
export interface StatusRule {
  kind: ConnectorErrorKind;
  scope?: ThrottleScope;
  why: string;
}

export class ConnectorError extends Error {
  override name = 'ConnectorError';
  readonly kind: ConnectorErrorKind;
  readonly retryAfterMs?: number;
  readonly scope?: ThrottleScope;
  readonly status?: number;
  /**
   * The name of the remote whose connector met it, set where the connector was opened
   * (registry.ts), so a run that must wait can say which remote to fix.
   */
  remote?: string;
  /** The type of the connector that met it (`jottacloud`, `local`), set with `remote`: the label of its metrics. */
  provider?: string;

  constructor(kind: ConnectorErrorKind, message: string, opts: ConnectorErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.kind = kind;
    this.retryAfterMs = opts.retryAfterMs;
    this.scope = opts.scope;
    this.status = opts.status;
  }

  /** Kinds worth retrying without the user doing anything. */
  get retryable(): boolean {
    return this.kind === 'throttled' || this.kind === 'transient';
  }
}

export function isConnectorError(err: unknown, kind?: ConnectorErrorKind): err is ConnectorError {
  return err instanceof ConnectorError && (kind === undefined || err.kind === kind);
}
