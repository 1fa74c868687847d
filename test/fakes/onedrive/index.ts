/** The OneDrive / Microsoft Graph emulator: see README.md beside this file. */
export { startOneDriveEmulator, ONEDRIVE_HOSTS, type OneDriveEmulator, type OneDriveEmulatorOptions, type OneDriveStats, type EmulatedFile, type SeedSource } from './server.js';
export { Faults, type Role, type ThrottleOptions } from './faults.js';
export { nameProblem, MAX_PATH_LENGTH } from './store.js';
