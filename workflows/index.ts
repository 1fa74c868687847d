export { transferRun, statusQuery } from './transferRun.js';
export { probeRemoteWorkflow } from './probe.js';
