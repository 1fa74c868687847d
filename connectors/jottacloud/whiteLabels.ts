/**
 * Jottacloud's white-label services (shared/specs/jottacloud-api.md §2.6, rclone's getServices):
 * the same file APIs (jfs/api.jottacloud.com), but accounts live in the label's own Keycloak realm
 * and are connected through its login page (authorization-code flow with a public client), not
 * with a Personal Login Token, which most labels do not offer. Refreshes then work as §2.5
 * (rotating refresh tokens, reuse detection) at the realm's token endpoint with the label's client.
 */
import type { OAuthProvider } from '../shared/oauth2.js';

export interface WhiteLabel {
  /** What the user and messages call it. */
  name: string;
  /** Host of the label's Keycloak. */
  domain: string;
  realm: string;
  /** The label's public client (no secret): `desktop`, or `desktop-win` for a few. */
  clientId: string;
  scopes: readonly string[];
}

const DEFAULT_SCOPES = ['openid', 'jotta-default', 'offline_access'] as const;
const WIN_SCOPES = ['openid', 'offline_access'] as const;

/**
 * §2.6's table, keyed like rclone's `config_type` so a person coming from rclone finds the same
 * word. The table's own first row (`jottacloud` itself via the traditional flow) is left out: a
 * Jottacloud remote connects with a Personal Login Token.
 */
export const WHITE_LABELS = {
  telia_se: { name: 'Telia Cloud', domain: 'cloud-auth.telia.se', realm: 'telia_se', clientId: 'desktop', scopes: DEFAULT_SCOPES },
  telia_no: { name: 'Telia Sky', domain: 'sky-auth.telia.no', realm: 'get', clientId: 'desktop', scopes: DEFAULT_SCOPES },
  tele2: { name: 'Tele2 Cloud', domain: 'mittcloud-auth.tele2.se', realm: 'comhem', clientId: 'desktop', scopes: DEFAULT_SCOPES },
  elkjop: { name: 'Elkjøp Cloud', domain: 'cloud.elkjop.no', realm: 'elkjop', clientId: 'desktop', scopes: DEFAULT_SCOPES },
  elgiganten_dk: { name: 'Elgiganten Cloud (Denmark)', domain: 'cloud.elgiganten.dk', realm: 'elgiganten', clientId: 'desktop', scopes: DEFAULT_SCOPES },
  elgiganten_se: { name: 'Elgiganten Cloud (Sweden)', domain: 'cloud.elgiganten.se', realm: 'elgiganten', clientId: 'desktop', scopes: DEFAULT_SCOPES },
  elko: { name: 'ELKO Cloud', domain: 'cloud.elko.is', realm: 'elko', clientId: 'desktop', scopes: DEFAULT_SCOPES },
  gigantti: { name: 'Gigantti Cloud', domain: 'cloud.gigantti.fi', realm: 'gigantti', clientId: 'desktop', scopes: DEFAULT_SCOPES },
  letsgo: { name: "Let's Go Cloud", domain: 'letsgo.jotta.cloud', realm: 'letsgo', clientId: 'desktop-win', scopes: WIN_SCOPES },
  mediamarkt: { name: 'MediaMarkt Cloud', domain: 'mediamarkt.jottacloud.com', realm: 'mediamarkt', clientId: 'desktop', scopes: DEFAULT_SCOPES },
  onlime: { name: 'Onlime Cloud', domain: 'cloud-auth.onlime.dk', realm: 'onlime_wl', clientId: 'desktop', scopes: DEFAULT_SCOPES },
  phonero: { name: 'Phonero Cloud', domain: 'sky.phonero.no', realm: 'phonero', clientId: 'desktop-win', scopes: WIN_SCOPES },
} as const satisfies Record<string, WhiteLabel>;

export type WhiteLabelKey = keyof typeof WHITE_LABELS;

export const whiteLabelKeys = Object.keys(WHITE_LABELS) as [WhiteLabelKey, ...WhiteLabelKey[]];

export function whiteLabelOf(key: unknown): WhiteLabel | undefined {
  return typeof key === 'string' && Object.hasOwn(WHITE_LABELS, key) ? WHITE_LABELS[key as WhiteLabelKey] : undefined;
}

/** §2.6: Keycloak's paths under the label's domain. */
export function realmEndpoints(label: WhiteLabel): { wellKnown: string; authUrl: string; tokenUrl: string } {
  const realm = `https://${label.domain}/auth/realms/${encodeURIComponent(label.realm)}`;
  return {
    wellKnown: `${realm}/.well-known/openid-configuration`,
    authUrl: `${realm}/protocol/openid-connect/auth`,
    tokenUrl: `${realm}/protocol/openid-connect/token`,
  };
}

/**
 * The authorization server the connect flow sends a person to. The label's public client is the
 * default; an operator's KNARR_TELIA_CLIENT_ID (any label: none has its own variable) replaces it.
 */
export function whiteLabelProvider(label: WhiteLabel): OAuthProvider {
  const { authUrl, tokenUrl } = realmEndpoints(label);
  return { name: label.name, authUrl, tokenUrl, scopes: label.scopes, envPrefix: 'TELIA', defaultClient: { clientId: label.clientId } };
}
