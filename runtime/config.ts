import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { HostPolicy } from '../connectors/types.js';
import { defaultTaskQueue } from '../core/run.js';
import { oauthSetupFrom, type OAuthSetup } from '../connectors/oauthConnect.js';

/** Everything knarr reads from the environment, read in one place. */
export interface Config {
  dataDir: string;
  api: { host: string; port: number };
  /** PostgreSQL; when absent the embedded PGlite database under `dataDir` is used. */
  databaseUrl: string | null;
  temporal: {
    /** A running cluster; when absent `knarr server` starts a dev server. */
    address: string | null;
    namespace: string;
    taskQueue: string;
    tls: TemporalTls | null;
    /** Ports of the embedded dev server. */
    devPort: number;
    uiPort: number;
  };
  /** How soon a dead worker's activity is retried elsewhere. */
  heartbeatTimeoutMs: number;
  /**
   * How long a stopping worker lets running copies go on before cancelling them. 0: a stop
   * cancels them at once; each keeps the checkpoint it last saved, and the bytes written since
   * are kept by the destination and found again on resume.
   */
  shutdownGraceMs: number;
  /** KNARR_LOCAL_ROOTS: the folders local remotes may name; null when unset (see hostPolicy). */
  localRoots: string[] | null;
  /** KNARR_ADMIN_KEY: the admin's API key, instead of one generated on first start. */
  adminKey: string | null;
  /** KNARR_METRICS_PORT: where `knarr worker` serves its /metrics (the API serves its own on the API port). */
  metricsPort: number | null;
  /** KNARR_ALLOW_PRIVATE_NETWORKS: null when unset (see hostPolicy). */
  privateNetworks: boolean | null;
  /** KNARR_TEMPORAL_UI_URL: where Temporal Web shows this knarr's workflows (the dashboard links runs there); unset, the embedded dev server's when knarr starts one. */
  temporalUiUrl: string | null;
  /** KNARR_QUOTA_PROBE_MS: how often a run stopped by a provider's daily quota tries again. */
  quotaProbeMs: number;
  /** KNARR_PUBLIC_URL and KNARR_<GOOGLE|MICROSOFT|DROPBOX|TELIA>_CLIENT_ID/_SECRET: the OAuth connect flow. */
  oauth: OAuthSetup;
}

export interface TemporalTls {
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
  serverNameOverride?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const api = { host: env.KNARR_API_HOST || '127.0.0.1', port: intVar(env, 'KNARR_API_PORT', env.PORT ? intVar(env, 'PORT', 8080) : 8080) };
  return {
    dataDir: resolve(env.KNARR_DATA_DIR || './data'),
    api,
    databaseUrl: env.DATABASE_URL || null,
    temporal: {
      address: env.TEMPORAL_ADDRESS || null,
      namespace: env.TEMPORAL_NAMESPACE || 'default',
      taskQueue: env.KNARR_TASK_QUEUE || defaultTaskQueue,
      tls: tlsFrom(env),
      devPort: intVar(env, 'KNARR_TEMPORAL_PORT', 7233),
      uiPort: intVar(env, 'KNARR_TEMPORAL_UI_PORT', 8233),
    },
    heartbeatTimeoutMs: intVar(env, 'KNARR_HEARTBEAT_TIMEOUT_MS', 60_000),
    shutdownGraceMs: intVar(env, 'KNARR_SHUTDOWN_GRACE_MS', 0),
    localRoots: localRootsFrom(env),
    adminKey: adminKeyFrom(env),
    metricsPort: env.KNARR_METRICS_PORT ? intVar(env, 'KNARR_METRICS_PORT', 0) : null,
    privateNetworks: boolVar(env, 'KNARR_ALLOW_PRIVATE_NETWORKS'),
    quotaProbeMs: intVar(env, 'KNARR_QUOTA_PROBE_MS', 3_600_000),
    temporalUiUrl: env.KNARR_TEMPORAL_UI_URL?.trim() || null,
    oauth: oauthSetupFrom(env, `http://${api.host === '0.0.0.0' || api.host === '::' ? 'localhost' : api.host}:${api.port}`),
  };
}

/**
 * What remotes may reach of this machine. `knarr server` has one owner, who may name any folder
 * unless KNARR_LOCAL_ROOTS says otherwise; split api and worker processes serve many users, who
 * may name only folders under KNARR_LOCAL_ROOTS (none by default), and endpoints only on public
 * addresses unless KNARR_ALLOW_PRIVATE_NETWORKS=1. Knarr's own data directory is never reachable.
 */
export function hostPolicy(role: 'server' | 'api' | 'worker', config: Pick<Config, 'localRoots' | 'dataDir' | 'privateNetworks'>): HostPolicy {
  const oneOwner = role === 'server';
  return {
    localRoots: config.localRoots ?? (oneOwner ? null : []),
    protectedPaths: [config.dataDir],
    // The same rule for endpoints: one owner may reach a NAS on the LAN; many users may not reach the server's networks.
    privateNetworks: config.privateNetworks ?? oneOwner,
  };
}

function boolVar(env: NodeJS.ProcessEnv, name: string): boolean | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} must be 1 or 0`);
}

function localRootsFrom(env: NodeJS.ProcessEnv): string[] | null {
  const raw = env.KNARR_LOCAL_ROOTS;
  if (raw === undefined) return null;
  const roots = raw.split(':').map((p) => p.trim()).filter(Boolean);
  for (const p of roots) {
    if (!isAbsolute(p)) throw new ConfigError(`KNARR_LOCAL_ROOTS: "${p}" is not an absolute path; give folders like /srv/share:/mnt/nas, separated by ":"`);
  }
  return roots.map((p) => resolve(p));
}

function adminKeyFrom(env: NodeJS.ProcessEnv): string | null {
  const key = env.KNARR_ADMIN_KEY?.trim();
  if (!key) return null;
  if (key.length < 32 || /\s/.test(key)) throw new ConfigError('KNARR_ADMIN_KEY must be at least 32 characters with no spaces; make one with: openssl rand -base64 32');
  return key;
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a whole number`);
  return n;
}

/**
 * TLS for a remote cluster (Temporal Cloud or self-hosted with mTLS): TEMPORAL_TLS=1 alone uses
 * the system CAs; the file variables add a CA, a client certificate and a server name.
 */
function tlsFrom(env: NodeJS.ProcessEnv): TemporalTls | null {
  const ca = env.TEMPORAL_TLS_CA_PATH;
  const cert = env.TEMPORAL_TLS_CERT_PATH;
  const key = env.TEMPORAL_TLS_KEY_PATH;
  const enabled = env.TEMPORAL_TLS === '1' || env.TEMPORAL_TLS === 'true' || ca || cert || key;
  if (!enabled) return null;
  if (Boolean(cert) !== Boolean(key)) throw new ConfigError('set both TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH for a client certificate, or neither');
  const read = (name: string, path: string) => {
    try {
      return readFileSync(path);
    } catch {
      throw new ConfigError(`${name}=${path} cannot be read`);
    }
  };
  return {
    serverRootCACertificate: ca ? read('TEMPORAL_TLS_CA_PATH', ca) : undefined,
    clientCertPair: cert && key ? { crt: read('TEMPORAL_TLS_CERT_PATH', cert), key: read('TEMPORAL_TLS_KEY_PATH', key) } : undefined,
    serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME || undefined,
  };
}
