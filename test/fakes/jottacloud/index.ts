/** The Jottacloud emulator: see README.md beside this file. */
export { startJottacloudEmulator, type JottaEmulator, type JottaEmulatorOptions } from './server.js';
export { Faults, faultRequestSchema, type FaultRequest, type FaultState, type RequestRole, type CorruptMode } from './faults.js';
export { decodeLoginToken, encodeLoginToken } from './tokens.js';
export { JOTTA_HOSTS } from './server.js';
export type { FileSnapshot, AccountOptions } from './store.js';
export type { LogEntry } from './http.js';
export { startRcloneHarness, findRclone, findRclones, INSTALL_HINT, type RcloneHarness, type RcloneResult } from './rclone.js';
export { REALMS, WHITE_LABEL_HOSTS, type Realm } from './realms.js';
export type { SessionInfo } from './auth.js';
