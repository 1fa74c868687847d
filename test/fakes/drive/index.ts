/** The Google Drive emulator: see README.md beside this file. */
export { startDriveEmulator, DRIVE_HOSTS, type DriveEmulator, type DriveEmulatorOptions, type DriveEmulatorStats, type ListedItem, type LogEntry, type SeedOptions } from './server.js';
export { Faults, faultRequestSchema, type FaultRequest, type Role } from './faults.js';
export { docKinds, FOLDER_MIME, SHORTCUT_MIME, MY_DRIVE_ROOT, type DocKind, type DriveItem } from './store.js';
export { exportTypes } from './api.js';
