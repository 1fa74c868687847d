/**
 * The JSON side of api.jottacloud.com apart from uploads: `GET /account/v1/customer` (§2.8, called
 * by every rclone NewFs) and `POST /files/v1/purge_trash` (§5). shared/specs/jottacloud-api.md.
 */
import { apiUser, type Ctx, drain, sendJson } from './http.js';
import type { Account } from './store.js';
import type { CustomerJson, PurgeTrashJson } from './wire.js';

export function handleCustomer(ctx: Ctx): void {
  drain(ctx.req);
  const username = apiUser(ctx);
  if (!username) return;
  const store = ctx.emu.store;
  const acc = store.account(username) as Account;
  const full = ctx.emu.faults.isQuotaFull(acc.username);
  const usage = store.usage(acc);
  const body: CustomerJson = {
    username: acc.username,
    email: acc.email,
    name: acc.fullName,
    country_code: 'NO',
    language_code: 'en',
    customer_group_code: 'PERSONAL',
    brand_code: 'JOTTA',
    account_type: acc.accountType,
    subscription_type: acc.capacity > 0 ? 'PERSONAL_LIMITED' : 'PERSONAL_UNLIMITED',
    usage,
    quota: full ? usage : acc.capacity,
    business_usage: 0,
    business_quota: 0,
    write_locked: full,
    read_locked: false,
    locked_cause: null,
    web_hash: '',
    android_hash: '',
    ios_hash: '',
  };
  sendJson(ctx, 200, body);
}

export function handlePurgeTrash(ctx: Ctx): void {
  drain(ctx.req);
  const username = apiUser(ctx);
  if (!username) return;
  const store = ctx.emu.store;
  const counts: PurgeTrashJson = store.purgeTrash(store.account(username) as Account);
  sendJson(ctx, 200, { folders: counts.folders, files: counts.files });
}
