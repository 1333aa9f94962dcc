export { clusterUp, clusterDown, clusterStatus, clusterClear, DEFAULT_CLUSTER_DIR, DEFAULT_CLUSTER_NODES, type ClusterUpOptions, type ClusterNodeStatus } from './supervisor.js'
export { EpochReporter } from './progress.js'
export { readClusterState, CLUSTER_FILE, type ClusterState, type ClusterNodeState } from './state.js'
export { processAlive, terminate } from './processes.js'
