import type { CredentialCipher } from './credentials.js';

/**
 * An unfinished upload's state as the ledger keeps it: the offset in clear (progress and resume
 * bookkeeping read it), everything else sealed with the master key and bound to its item. The
 * state holds what a provider hands out to resume an upload, and some of it is as good as a
 * password (Drive's session URI, OneDrive's pre-authenticated uploadUrl, a Dropbox session id).
 */
export interface StoredUploadState {
  offset: number;
  sealed: string;
  [key: string]: unknown;
}

export interface UploadStateVault {
  seal(itemId: number, state: { offset: number; [key: string]: unknown }): StoredUploadState;
  /** The state as the connector saved it; a row written before states were sealed is taken as it is. */
  open(itemId: number, stored: unknown): { offset: number; [key: string]: unknown } | null;
}

export function uploadStateVault(cipher: CredentialCipher): UploadStateVault {
  const context = (itemId: number) => `upload-state:${itemId}`;
  return {
    seal: (itemId, state) => ({ offset: state.offset, sealed: cipher.seal(state, context(itemId)).toString('base64') }),
    open: (itemId, stored) => {
      if (!stored || typeof stored !== 'object') return null;
      const s = stored as Record<string, unknown>;
      if (typeof s.sealed !== 'string') return s as { offset: number };
      return cipher.open<{ offset: number }>(Buffer.from(s.sealed, 'base64'), context(itemId));
    },
  };
}
