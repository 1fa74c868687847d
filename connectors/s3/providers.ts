/**
 * The S3-compatible providers knarr knows, as presets: where the endpoint is, what region to sign
 * with, path or virtual-host addressing, the multipart limits and whether `x-amz-checksum-*`
 * headers may be sent. Facts: shared/specs/providers.md A.1 (quirks table) and 0.7.
 */
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const providerIds = ['aws', 'wasabi', 'b2', 'r2', 'scaleway', 'hetzner', 'digitalocean', 'storj', 'idrive', 'gcs', 'other'] as const;
export type ProviderId = (typeof providerIds)[number];

export interface ProviderPreset {
  label: string;
  /** The endpoint built from the region, or null when the user must give it (an account id is in it). */
  endpoint: ((region: string) => string) | null;
  /** A region the provider always signs with (R2 and GCS: `auto`); the user's is ignored. */
  fixedRegion?: string;
  /** Whether the user must name the region (it is in the endpoint, or the provider has no default). */
  regionRequired: boolean;
  defaultRegion: string;
  /** Path-style addressing (`endpoint/bucket/key`) unless the remote says otherwise. */
  pathStyle: boolean;
  /** Smallest part but the last. */
  minPartSize: number;
  maxPartSize: number;
  maxParts: number;
  /** Every part but the last must be the same size (R2). knarr always uses one size per upload, resumes included. */
  equalParts: boolean;
  /** Whether `x-amz-checksum-*` headers may be sent (R2 and B2 refused them, providers.md 0.7). */
  checksumHeaders: boolean;
  /** Where the endpoint comes from when the user must give it. */
  endpointHint?: string;
}

const standard = { minPartSize: 5 * MiB, maxPartSize: 5 * GiB, maxParts: 10_000, equalParts: false, checksumHeaders: true } as const;

export const providers: Readonly<Record<ProviderId, ProviderPreset>> = Object.freeze({
  aws: { ...standard, label: 'Amazon S3', endpoint: (r) => `https://s3.${r}.amazonaws.com`, regionRequired: true, defaultRegion: 'us-east-1', pathStyle: false },
  wasabi: { ...standard, label: 'Wasabi', endpoint: (r) => `https://s3.${r}.wasabisys.com`, regionRequired: true, defaultRegion: 'us-east-1', pathStyle: true },
  // B2 asks for parts of at least 5 MB (5,000,000 bytes); 5 MiB is above that.
  b2: { ...standard, label: 'Backblaze B2', endpoint: (r) => `https://s3.${r}.backblazeb2.com`, regionRequired: true, defaultRegion: 'us-west-004', pathStyle: true, checksumHeaders: false },
  r2: {
    ...standard, label: 'Cloudflare R2', endpoint: null, fixedRegion: 'auto', regionRequired: false, defaultRegion: 'auto', pathStyle: true,
    equalParts: true, checksumHeaders: false, endpointHint: 'https://<accountId>.r2.cloudflarestorage.com (R2 → Manage API tokens shows it)',
  },
  scaleway: { ...standard, label: 'Scaleway', endpoint: (r) => `https://s3.${r}.scw.cloud`, regionRequired: true, defaultRegion: 'fr-par', pathStyle: true, maxParts: 1_000 },
  hetzner: { ...standard, label: 'Hetzner Object Storage', endpoint: (r) => `https://${r}.your-objectstorage.com`, regionRequired: true, defaultRegion: 'fsn1', pathStyle: true },
  digitalocean: { ...standard, label: 'DigitalOcean Spaces', endpoint: (r) => `https://${r}.digitaloceanspaces.com`, regionRequired: true, defaultRegion: 'nyc3', pathStyle: true },
  storj: { ...standard, label: 'Storj (S3 gateway)', endpoint: () => 'https://gateway.storjshare.io', regionRequired: false, defaultRegion: 'us-east-1', pathStyle: true },
  idrive: { ...standard, label: 'IDrive e2', endpoint: null, regionRequired: false, defaultRegion: 'us-east-1', pathStyle: true, endpointHint: 'the endpoint IDrive e2 shows for the bucket\'s region' },
  gcs: { ...standard, label: 'Google Cloud Storage (XML API)', endpoint: () => 'https://storage.googleapis.com', fixedRegion: 'auto', regionRequired: false, defaultRegion: 'auto', pathStyle: true },
  other: { ...standard, label: 'another S3-compatible server', endpoint: null, regionRequired: false, defaultRegion: 'us-east-1', pathStyle: true, endpointHint: 'the server\'s URL, e.g. https://s3.example.com' },
});

export interface ResolvedTarget {
  endpoint: string;
  region: string;
  pathStyle: boolean;
}

/** Endpoint, region and addressing of a remote from its preset and what the user gave; a message saying how to fix it otherwise. */
export function resolveTarget(cfg: { provider: ProviderId; endpoint?: string; region?: string; pathStyle?: boolean }): ResolvedTarget | { problem: string; field: string } {
  const p = providers[cfg.provider];
  if (p.regionRequired && !cfg.region && !cfg.endpoint) {
    return { field: 'region', problem: `region is required for provider ${cfg.provider} (${p.label}), e.g. ${p.defaultRegion}` };
  }
  const region = p.fixedRegion ?? cfg.region ?? p.defaultRegion;
  const endpoint = cfg.endpoint ?? p.endpoint?.(region);
  if (!endpoint) return { field: 'endpoint', problem: `endpoint is required for provider ${cfg.provider} (${p.label}): ${p.endpointHint ?? 'the server\'s URL'}` };
  return { endpoint: endpoint.replace(/\/+$/, ''), region, pathStyle: cfg.pathStyle ?? p.pathStyle };
}

/**
 * The part size of one multipart upload, fixed for its life (resumes included): large enough
 * that the file fits in the provider's part count, at least its minimum and the size asked for,
 * in whole MiB.
 */
export function partSizeFor(preset: Pick<ProviderPreset, 'minPartSize' | 'maxPartSize' | 'maxParts'>, size: number, requested = 0): number {
  const needed = Math.max(preset.minPartSize, Math.ceil(size / preset.maxParts), requested);
  return Math.min(preset.maxPartSize, Math.ceil(needed / MiB) * MiB);
}
