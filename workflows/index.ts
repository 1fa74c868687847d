export { transferRun, statusQuery } from './transferRun.js';
export { listFolderWorkflow, probeRemoteWorkflow } from './probe.js';
