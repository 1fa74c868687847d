/** The Nextcloud WebDAV emulator: see README.md beside this file. */
export {
  startNextcloudEmulator,
  NEXTCLOUD_VERSION,
  type NextcloudEmulator,
  type NextcloudEmulatorOptions,
  type NextcloudFaults,
  type NextcloudStats,
  type NextcloudFile,
} from './server.js';
export { MIN_V2_CHUNK, MAX_V2_CHUNK, MAX_V2_PARTS, UPLOAD_TTL_MS } from './uploads.js';
