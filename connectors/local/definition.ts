import { z } from 'zod';
import { defineConnector } from '../definition.js';
import { createLocalConnector, localCapabilities, type LocalConfig } from './index.js';

export const localConfigSchema = z.strictObject({
  root: z.string().min(1).refine((p) => p.startsWith('/'), { message: 'root must be an absolute path, e.g. /srv/backup' }),
});

/** A folder on this machine or a mounted NAS share; no secrets. */
export const localDefinition = defineConnector<LocalConfig>({
  type: 'local',
  configSchema: localConfigSchema,
  capabilities: localCapabilities,
  create: (settings) => createLocalConnector(settings),
});
