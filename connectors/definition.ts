import { z } from 'zod';
import type { Capabilities, Connector, ConnectorContext, ConnectorDefinition } from './types.js';

/** Marks a config field as a secret: `loginToken: z.string().meta(secret)`. Put it last in the chain (zod keeps meta per instance). */
export const secret = { secret: true } as const;

function isSecret(field: z.ZodType): boolean {
  return (field.meta() as { secret?: unknown } | undefined)?.secret === true;
}

/**
 * A connector definition from its config schema: the secret keys are the fields marked `secret`,
 * and the stored-settings and reconnect schemas are derived from it, so the three never disagree.
 */
export function defineConnector<Settings extends object>(def: {
  type: string;
  configSchema: z.ZodObject;
  capabilities: Capabilities;
  reconnectHint?: string;
  /** The authorization server of a provider connected through its consent page. */
  oauth?: ConnectorDefinition['oauth'];
  /** Gets what `settingsSchema` parsed from the stored settings (the config without its secrets). */
  create(settings: Settings, ctx: ConnectorContext): Connector;
  vetConfig?: ConnectorDefinition['vetConfig'];
  /**
   * A rule across fields (an S3 preset that cannot build its endpoint without a region; an SFTP
   * login by password or key, not both), checked by `configSchema` (`withSecrets` true) and
   * `settingsSchema` (false: stored settings hold no secrets, so rules about them wait for the
   * full config) as a zod issue at `field`: a 400 naming it. Given apart from the schema because
   * zod cannot omit the secrets from a refined object.
   */
  crossCheck?: (config: Record<string, unknown>, opts: { withSecrets: boolean }) => { field: string; message: string } | null;
}): ConnectorDefinition {
  const shape = def.configSchema.shape as Record<string, z.ZodType>;
  const secretKeys = Object.keys(shape).filter((k) => isSecret(shape[k]));
  // zod types omit/pick masks by literal keys; these are known only at run time.
  const mask = Object.fromEntries(secretKeys.map((k) => [k, true])) as never;
  const check = def.crossCheck;
  const checked = <T extends z.ZodObject>(schema: T, withSecrets: boolean): T =>
    check
      ? schema.superRefine((cfg, ctx) => {
          const issue = check(cfg as Record<string, unknown>, { withSecrets });
          if (issue) ctx.addIssue({ code: 'custom', path: [issue.field], message: issue.message });
        })
      : schema;
  return Object.freeze({
    type: def.type,
    configSchema: checked(def.configSchema, true),
    secretKeys: Object.freeze(secretKeys),
    settingsSchema: checked(def.configSchema.omit(mask), false) as unknown as z.ZodType<Record<string, unknown>>,
    secretsSchema: def.configSchema.pick(mask) as unknown as z.ZodObject,
    capabilities: def.capabilities,
    ...(def.reconnectHint ? { reconnectHint: def.reconnectHint } : {}),
    ...(def.oauth ? { oauth: typeof def.oauth === 'function' ? def.oauth : Object.freeze({ ...def.oauth }) } : {}),
    create: def.create as unknown as ConnectorDefinition['create'],
    ...(def.vetConfig ? { vetConfig: def.vetConfig } : {}),
  });
}
