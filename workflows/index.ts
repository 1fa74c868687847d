export { transferRun, statusQuery } from './transferRun.js';
export { listFolderWorkflow, probeRemoteWorkflow, remoteAboutWorkflow } from './probe.js';
