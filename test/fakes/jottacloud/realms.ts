/**
 * The Keycloak realms the emulator serves (shared/specs/jottacloud-api.md §2.2, §2.6): Jottacloud's
 * own, where Personal Login Tokens are exchanged, and the white-labels', where accounts are
 * connected through a login page (authorization-code flow with a public client). Written from the
 * spec's table, apart from the connector's copy, so a wrong row in either shows in a test.
 */

export interface Realm {
  name: string;
  /** The hosts whose `/auth/realms/<name>/` this realm is (elgiganten has two). */
  domains: readonly string[];
  /** Public clients (no secret) the token endpoint takes. */
  clients: readonly string[];
  /** The client of the login page (authorization-code flow), which `issueToken` stands in for. */
  pageClient: string;
  /** §2.1: the realm exchanges Personal Login Tokens (password grant); §2.6: "most [white-labels] do not". */
  loginTokens: boolean;
}

const wl = (name: string, domains: string[], client = 'desktop'): Realm => ({ name, domains, clients: [client], pageClient: client, loginTokens: false });

export const JOTTA_REALM = 'jottacloud';

export const REALMS: Readonly<Record<string, Realm>> = Object.freeze({
  // §2.3 jottacli for login tokens; §2.6 desktop (and desktop-win) for the traditional flow.
  jottacloud: { name: JOTTA_REALM, domains: ['id.jottacloud.com'], clients: ['jottacli', 'desktop', 'desktop-win'], pageClient: 'desktop', loginTokens: true },
  telia_se: wl('telia_se', ['cloud-auth.telia.se']),
  get: wl('get', ['sky-auth.telia.no']),
  comhem: wl('comhem', ['mittcloud-auth.tele2.se']),
  elgiganten: wl('elgiganten', ['cloud.elgiganten.dk', 'cloud.elgiganten.se']),
  elkjop: wl('elkjop', ['cloud.elkjop.no']),
  elko: wl('elko', ['cloud.elko.is']),
  gigantti: wl('gigantti', ['cloud.gigantti.fi']),
  letsgo: wl('letsgo', ['letsgo.jotta.cloud'], 'desktop-win'),
  mediamarkt: wl('mediamarkt', ['mediamarkt.jottacloud.com']),
  onlime_wl: wl('onlime_wl', ['cloud-auth.onlime.dk']),
  phonero: wl('phonero', ['sky.phonero.no'], 'desktop-win'),
});

export function realmOf(name: string): Realm | undefined {
  return Object.hasOwn(REALMS, name) ? REALMS[name] : undefined;
}

/** Every white-label login host: the TLS certificate carries them, and each serves only its realms. */
export const WHITE_LABEL_HOSTS: readonly string[] = Object.values(REALMS)
  .filter((r) => r.name !== JOTTA_REALM)
  .flatMap((r) => r.domains);

export const realmPath = (realm: string): string => `/auth/realms/${realm}`;

/** `/auth/realms/<realm>/<rest>` → its parts; undefined for any other path. */
export function realmRequest(path: string): { realm: string; rest: string } | undefined {
  const m = /^\/auth\/realms\/([^/]+)(\/.*)?$/.exec(path);
  if (!m) return undefined;
  let realm: string;
  try {
    realm = decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
  return { realm, rest: m[2] ?? '' };
}
