import { z } from 'zod';
import { defineConnector } from '../definition.js';
import { localRootProblem } from './policy.js';
import { createLocalConnector, localCapabilities, type LocalConfig } from './index.js';

export const localConfigSchema = z.strictObject({
  root: z.string().min(1).refine((p) => p.startsWith('/'), { message: 'root must be an absolute path, e.g. /srv/backup' }),
});

/** A folder on this machine or a mounted NAS share; no secrets. */
export const localDefinition = defineConnector<LocalConfig>({
  type: 'local',
  configSchema: localConfigSchema,
  capabilities: localCapabilities,
  create: (settings, ctx) => createLocalConnector(settings, ctx.host),
  vetConfig: (config, host) => {
    const why = localRootProblem(host, String(config.root));
    return why ? { field: 'root', message: why } : null;
  },
});
