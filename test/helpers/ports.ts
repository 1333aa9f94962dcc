/** Ports for tests: the cluster's own rule (below the kernel's ephemeral range), src/cluster/ports.ts. */
export { freePortBlock } from '../../src/cluster/ports.js'
