export { Network, type NetworkOptions, type NetworkModules, type GroupInfo, type GroupMemberInfo, type ConnectionInfo } from './network.js'
export { Membership } from './membership.js'
export type { NodeLibp2p } from './libp2p.js'
export { request, serve } from './reqresp.js'
