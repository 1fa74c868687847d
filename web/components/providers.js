// What the dashboard knows about each kind of remote: the provider's own name and words, and the
// fields of its form (the config of connectors/<type>/definition.ts; the API checks them).

/**
 * @typedef {{ key: string, label: string, kind?: 'text' | 'password' | 'number' | 'url' | 'select' | 'textarea' | 'checkbox',
 *   required?: boolean, help?: string, options?: string[], advanced?: boolean, secret?: boolean, placeholder?: string }} Field
 * @typedef {{ id: string, label: string, type: string, fixed?: Record<string, unknown>, oauth?: boolean, intro?: string, steps?: string[], fields: Field[] }} Provider
 */

const whiteLabelNames = { telia_se: 'Telia Cloud', telia_no: 'Telia Sky', tele2: 'Tele2 Cloud', elkjop: 'Elkjøp Cloud', elgiganten_dk: 'Elgiganten Cloud' };

const jottaEndpoints = [
  { key: 'jfsUrl', label: 'JFS endpoint', kind: 'url', advanced: true, help: 'Only to reach another Jottacloud-compatible server (an emulator); leave empty for Jottacloud.' },
  { key: 'apiUrl', label: 'API endpoint', kind: 'url', advanced: true, help: 'Only with the JFS endpoint above.' },
];
/** A provider's OAuth and API endpoints: only to reach a compatible server (an emulator), as Jottacloud's endpoints above. */
const oauthEndpoints = (provider, api) => [
  { key: 'apiUrl', label: 'API endpoint', kind: 'url', advanced: true, help: `Only to reach another ${provider}-compatible server (an emulator); leave empty for ${api}.` },
  { key: 'authUrl', label: 'Authorization endpoint', kind: 'url', advanced: true, help: 'The consent page\'s address on that server.' },
  { key: 'tokenUrl', label: 'Token endpoint', kind: 'url', advanced: true, help: 'Where that server exchanges and renews tokens.' },
];
const jottaPlaces = [
  { key: 'device', label: 'Device', advanced: true, placeholder: 'Jotta' },
  { key: 'mountpoint', label: 'Mount point', advanced: true, placeholder: 'Archive', help: 'Archive (default), Sync, or a backup mount point.' },
];

/** @type {Provider[]} */
export const providers = [
  {
    id: 'jottacloud', label: 'Jottacloud', type: 'jottacloud',
    intro: 'Jottacloud connects with a Personal Login Token, which you make in Jottacloud and paste here once.',
    steps: [
      'Sign in at jottacloud.com.',
      'Open Account → Security.',
      'Under Personal login token, choose Generate.',
      'Copy the token and paste it here. It works once; knarr keeps only the session it opens.',
    ],
    fields: [{ key: 'loginToken', label: 'Personal Login Token', kind: 'password', required: true, secret: true }, ...jottaPlaces, ...jottaEndpoints],
  },
  { id: 'telia_se', label: 'Telia Cloud', type: 'jottacloud', fixed: { whiteLabel: 'telia_se' }, oauth: true, intro: 'Telia Cloud connects through Telia\'s own login page.', fields: [...jottaPlaces] },
  { id: 'telia_no', label: 'Telia Sky', type: 'jottacloud', fixed: { whiteLabel: 'telia_no' }, oauth: true, intro: 'Telia Sky connects through Telia\'s own login page.', fields: [...jottaPlaces] },
  { id: 'drive', label: 'Google Drive', type: 'drive', oauth: true, intro: 'Google Drive connects through Google\'s consent page: you sign in at Google and allow knarr access to your Drive.', fields: [
    { key: 'driveId', label: 'Shared drive id', advanced: true, help: 'Leave empty for My Drive.' },
    { key: 'rootFolderId', label: 'Root folder id', advanced: true, help: 'The last part of a folder\'s URL, to use only that folder.' },
    ...oauthEndpoints('Drive', 'Google Drive'),
  ] },
  { id: 'onedrive', label: 'OneDrive', type: 'onedrive', oauth: true, intro: 'OneDrive connects through Microsoft\'s consent page: you sign in with your Microsoft account and allow knarr access to your files.', fields: [
    { key: 'driveType', label: 'Drive type', kind: 'select', options: ['', 'personal', 'business', 'documentLibrary'], advanced: true },
    { key: 'siteUrl', label: 'SharePoint site URL', kind: 'url', advanced: true, placeholder: 'https://contoso.sharepoint.com/sites/Team' },
    ...oauthEndpoints('Microsoft Graph', 'OneDrive'),
  ] },
  { id: 'dropbox', label: 'Dropbox', type: 'dropbox', oauth: true, intro: 'Dropbox connects through Dropbox\'s consent page: you sign in at Dropbox and allow knarr access to your files.', fields: [
    { key: 'root', label: 'Folder', advanced: true, help: 'A folder of your Dropbox to use as the remote\'s root, e.g. Backups/2024.' },
    ...oauthEndpoints('Dropbox', 'Dropbox'),
    { key: 'contentUrl', label: 'Content endpoint', kind: 'url', advanced: true, help: 'Where that server takes uploads and downloads.' },
  ] },
  { id: 's3', label: 'S3 and compatible storage', type: 's3', intro: 'Amazon S3 or an S3-compatible service: pick the provider, then give the bucket and an access key.', fields: [
    // "Service", not "Provider": the form's first field is already labelled Provider.
    { key: 'provider', label: 'Service', kind: 'select', required: true, options: ['aws', 'wasabi', 'b2', 'r2', 'scaleway', 'hetzner', 'digitalocean', 'storj', 'idrive', 'gcs', 'other'],
      help: 'Its preset picks the endpoint, region and addressing; "other" for any other S3-compatible server (MinIO, Ceph, versitygw …).' },
    { key: 'bucket', label: 'Bucket', required: true },
    { key: 'region', label: 'Region', placeholder: 'eu-central-1', help: 'Where the provider needs one (AWS, Wasabi, Scaleway, Hetzner …).' },
    { key: 'endpoint', label: 'Endpoint', kind: 'url', help: 'Needed for "other" and for R2 (your account\'s endpoint).' },
    { key: 'accessKeyId', label: 'Access key id', required: true },
    { key: 'secretAccessKey', label: 'Secret access key', kind: 'password', required: true, secret: true },
    { key: 'root', label: 'Key prefix', advanced: true, placeholder: 'backups/laptop' },
    { key: 'pathStyle', label: 'Path-style addressing (endpoint/bucket/key)', kind: 'checkbox', advanced: true },
  ] },
  { id: 'webdav', label: 'WebDAV (Nextcloud, ownCloud …)', type: 'webdav', intro: 'A WebDAV folder: for Nextcloud, the WebDAV address under Files → Settings, and an app password.', fields: [
    { key: 'url', label: 'WebDAV URL', kind: 'url', required: true, placeholder: 'https://cloud.example.com/remote.php/dav/files/alice/' },
    { key: 'vendor', label: 'Server', kind: 'select', required: true, options: ['nextcloud', 'owncloud', 'fastmail', 'other'] },
    { key: 'user', label: 'User name', required: true },
    { key: 'password', label: 'Password or app password', kind: 'password', secret: true },
  ] },
  { id: 'sftp', label: 'SFTP', type: 'sftp', intro: 'A folder on a server you reach with SSH.', fields: [
    { key: 'host', label: 'Host', required: true, placeholder: 'nas.example.com' },
    { key: 'port', label: 'Port', kind: 'number', placeholder: '22' },
    { key: 'user', label: 'User name', required: true },
    { key: 'password', label: 'Password', kind: 'password', secret: true, help: 'Or a private key below.' },
    { key: 'privateKey', label: 'Private key', kind: 'textarea', secret: true, advanced: true },
    { key: 'passphrase', label: 'Key passphrase', kind: 'password', secret: true, advanced: true },
    { key: 'root', label: 'Folder', placeholder: '/srv/backup' },
    { key: 'hostKey', label: 'Host key', advanced: true, help: 'The server\'s public host key (ssh-ed25519 AAAA…), to be sure it is the right server.' },
  ] },
  { id: 'ftp', label: 'FTP / FTPS', type: 'ftp', intro: 'A folder on an FTP server; FTPS (explicit TLS) where the server has it.', fields: [
    { key: 'host', label: 'Host', required: true, placeholder: 'ftp.example.com' },
    { key: 'port', label: 'Port', kind: 'number', placeholder: '21' },
    { key: 'user', label: 'User name', required: true },
    { key: 'password', label: 'Password', kind: 'password', required: true, secret: true },
    { key: 'tls', label: 'Encryption', kind: 'select', options: ['none', 'explicit', 'implicit'] },
    { key: 'root', label: 'Folder', placeholder: '/pub/backups' },
  ] },
  { id: 'local', label: 'Folder on this server', type: 'local', intro: 'A folder on the machine knarr runs on, or a share mounted there.', fields: [
    { key: 'root', label: 'Folder path', required: true, placeholder: '/srv/photos', help: 'An absolute path on the knarr server.' },
  ] },
];

export const providerById = (id) => providers.find((p) => p.id === id);

/** A remote's provider as a person calls it ("Jottacloud", "Telia Cloud", "Google Drive"). */
export function providerName(remote) {
  if (!remote) return 'the cloud';
  if (remote.type === 'jottacloud' && remote.config?.whiteLabel) return whiteLabelNames[remote.config.whiteLabel] ?? remote.config.whiteLabel;
  const p = providers.find((x) => x.type === remote.type && !x.fixed);
  return p ? (remote.type === 'local' ? 'Local folder' : p.label.replace(/ \(.*\)$/, '').replace(' and compatible storage', '')) : remote.type;
}

/** Connected through a login page (reconnect opens it again) rather than with secrets typed here. */
export function isOAuth(remote) {
  return ['drive', 'onedrive', 'dropbox'].includes(remote.type) || (remote.type === 'jottacloud' && Boolean(remote.config?.whiteLabel));
}

/** The fields a reconnect asks for: the provider's secrets (none for a login page). */
export function secretFields(remote) {
  if (isOAuth(remote)) return [];
  const p = providers.find((x) => x.type === remote.type && !x.fixed);
  return p ? p.fields.filter((f) => f.secret && !(remote.type === 'sftp' && f.key === 'passphrase')) : [];
}
