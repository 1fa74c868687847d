/** The Dropbox emulator: see README.md beside this file. */
export { startDropboxEmulator, DROPBOX_HOSTS, type DropboxEmulator, type DropboxEmulatorOptions, type EmulatedEntry, type SeedContent } from './server.js';
export { DbxFaults, DEFAULT_CONTENTION, type ContentionOptions, type DbxStats, type ThrottleOptions } from './faults.js';
export type { Namespace, DbxNode } from './store.js';
