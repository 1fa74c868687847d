/**
 * Wire shapes of the Jottacloud emulator: JSON bodies and the data that XML documents are rendered
 * from. No logic here. Section numbers refer to shared/specs/jottacloud-api.md.
 */

/** §2.1: the decoded Personal Login Token (base64url without padding of this JSON). */
export interface LoginTokenJson {
  username: string;
  realm: string;
  well_known_link: string;
  auth_token: string;
}

/** §2.2: the OpenID discovery document (Keycloak field names; rclone reads token_endpoint). */
export interface WellKnownJson {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  token_introspection_endpoint: string;
  introspection_endpoint: string;
  userinfo_endpoint: string;
  end_session_endpoint: string;
  jwks_uri: string;
  grant_types_supported: string[];
  response_types_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
  scopes_supported: string[];
  code_challenge_methods_supported: string[];
}

/** §2.4 and §12.3 item 2: the token endpoint's success body. */
export interface TokenResponseJson {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  'not-before-policy': number;
  session_state: string;
  scope: string;
}

/** §9.1: RFC 6749 error body of the token endpoint. */
export interface OAuthErrorJson {
  error: 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unsupported_grant_type' | 'unauthorized_client' | 'invalid_scope';
  error_description: string;
}

/** §2.8: `GET /account/v1/customer`. */
export interface CustomerJson {
  username: string;
  email: string;
  name: string;
  country_code: string;
  language_code: string;
  customer_group_code: string;
  brand_code: string;
  account_type: string;
  subscription_type: string;
  usage: number;
  /** Emulator choice: -1 for unlimited (the sources do not show the real representation, §10). */
  quota: number;
  business_usage: number;
  business_quota: number;
  write_locked: boolean;
  read_locked: boolean;
  locked_cause: null;
  web_hash: string;
  android_hash: string;
  ios_hash: string;
}

/** §9.1: JSON error body of api.jottacloud.com and the upload URL. */
export interface ApiErrorJson {
  code: number;
  message: string;
  cause: string;
  error_id: string;
  'x-id': string;
}

/** §7.1: allocate request. Times are RFC3339 strings (rclone) or Unix milliseconds ([A]). */
export interface AllocateRequestJson {
  bytes: number;
  created?: string | number;
  md5: string;
  modified?: string | number;
  path: string;
  conflict_handler?: 'REJECT_CONFLICTS' | 'CREATE_NEW_REVISION';
}

/** §7.1: allocate response (`api.AllocateFileResponse`). */
export interface AllocateResponseJson {
  name: string;
  path: string;
  state: 'COMPLETED' | 'INCOMPLETE' | 'CORRUPT';
  upload_id: string;
  upload_url: string;
  bytes: number;
  resume_pos: number;
}

/** §7.2: upload success body; `modified` is Unix milliseconds. */
export interface UploadResponseJson {
  path: string;
  content_id: string;
  bytes: number;
  md5: string;
  modified: number;
}

/** §5: `POST /files/v1/purge_trash`. */
export interface PurgeTrashJson {
  folders: number;
  files: number;
}

// ---- XML documents (rendered by xml.ts) ----

export type RevisionState = 'COMPLETED' | 'INCOMPLETE' | 'CORRUPT';

/** §4.2: revision children, in this order. Optional ones are left out when undefined. */
export interface RevisionXml {
  number: number;
  state: RevisionState;
  created: Date;
  modified: Date;
  mime: string;
  mstyle: string;
  size?: number;
  md5: string;
  updated: Date;
}

/** One `<file>` as a child of a listing, or as the root of a stat / command reply. */
export interface FileXml {
  name: string;
  uuid: string;
  deleted?: Date;
  /** Parent path, e.g. `/u1/Jotta/Archive/docs`; rendered as `<path>`/`<abspath>` where the spec says. */
  parentPath: string;
  currentRevision?: RevisionXml;
  latestRevision?: RevisionXml;
  /** Older completed revisions, newest first; only on a stat of the file itself. */
  revisions?: RevisionXml[];
  contextType?: 'TRASH';
}

/** One `<folder>` child of a listing. */
export interface FolderChildXml {
  name: string;
  deleted?: Date;
  /** Parent path; rendered as `<abspath>` for trashed children (§4.2). */
  parentPath: string;
  contextType?: 'TRASH';
}

export interface FolderXml {
  kind: 'folder';
  name: string;
  deleted?: Date;
  parentPath: string;
  folders: FolderChildXml[];
  files: FileXml[];
  /** False for the `mkDir` reply (§5: "200 `<folder>` (no `<metadata>`)"). */
  withMetadata: boolean;
}

export interface MountPointXml {
  kind: 'mountPoint';
  name: string;
  /** `/<user>/<device>` */
  parentPath: string;
  size: number;
  modified?: Date;
  device: string;
  user: string;
  folders: FolderChildXml[];
  files: FileXml[];
}

/** §10: a `<mountPoint>` entry under `<device>`. */
export interface DeviceMountPointXml {
  name: string;
  size: number;
  modified?: Date;
  deleted?: Date;
}

/** §10: `GET /jfs/<user>/<device>`, and the `<device>` entries of `<user>`. */
export interface DeviceXml {
  name: string;
  displayName: string;
  type: string;
  sid: string;
  size: number;
  modified?: Date;
  user: string;
  mountPoints: DeviceMountPointXml[];
}

/** §10: `GET /jfs/<user>`. */
export interface UserXml {
  username: string;
  accountType: string;
  locked: boolean;
  /** -1 means unlimited. */
  capacity: number;
  maxDevices: number;
  maxMobileDevices: number;
  usage: number;
  readLocked: boolean;
  writeLocked: boolean;
  quotaWriteLocked: boolean;
  enableSync: boolean;
  enableFolderShare: boolean;
  devices: DeviceXml[];
}

/** §9.1: the JFS `<error>` body. */
export interface ErrorXml {
  code: number;
  message: string;
  reason: string;
  cause: string;
  hostname: string;
  xId: string;
}

/** §4.4: one entry of `mode=liststream`. Paths are `/<mountpoint>/...` (no user, no device). */
export type ListStreamItem =
  | { kind: 'folder'; path: string }
  | { kind: 'file'; parentPath: string; name: string; md5: string; size: number; modified: Date; created: Date };
