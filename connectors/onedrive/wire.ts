/** Microsoft Graph's JSON as the connector reads it (shared/specs/providers.md A.3). */

export interface ItemReference {
  driveId?: string;
  driveType?: string;
  id?: string;
  path?: string;
}

export interface DriveItem {
  id: string;
  name: string;
  size?: number;
  eTag?: string;
  cTag?: string;
  lastModifiedDateTime?: string;
  parentReference?: ItemReference;
  fileSystemInfo?: { createdDateTime?: string; lastModifiedDateTime?: string };
  file?: { mimeType?: string; hashes?: { quickXorHash?: string; sha1Hash?: string; sha256Hash?: string; crc32Hash?: string } };
  folder?: { childCount?: number };
  package?: { type?: string };
  root?: Record<string, unknown>;
  deleted?: { state?: string };
  remoteItem?: unknown;
  '@microsoft.graph.downloadUrl'?: string;
}

export interface ItemPage {
  value: DriveItem[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

export interface DriveInfo {
  id: string;
  driveType?: string;
  quota?: { total?: number; used?: number; remaining?: number; deleted?: number; state?: string };
}

export interface UploadSessionReply {
  uploadUrl?: string;
  expirationDateTime?: string;
  nextExpectedRanges?: string[];
}

export interface MonitorReply {
  status?: 'notStarted' | 'inProgress' | 'completed' | 'updating' | 'failed' | 'deletePending' | 'deleteFailed' | 'waiting';
  resourceId?: string;
  errorCode?: string;
  error?: { code?: string; message?: string };
}

/** Graph's error body. */
export interface GraphErrorBody {
  error?: { code?: string; message?: string; innerError?: { code?: string }; innererror?: { code?: string } };
}

export function parseGraphError(text: string): { code?: string; inner?: string; message?: string } {
  try {
    const e = (JSON.parse(text) as GraphErrorBody).error;
    return { code: e?.code, inner: e?.innerError?.code ?? e?.innererror?.code, message: e?.message };
  } catch {
    return {};
  }
}

/** The first committed offset of `nextExpectedRanges` (`["26-"]`, `["26-99"]`); undefined when unusable. */
export function firstExpected(ranges: string[] | undefined): number | undefined {
  const m = /^(\d+)-/.exec(ranges?.[0] ?? '');
  return m ? Number(m[1]) : undefined;
}
