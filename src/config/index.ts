export { loadNodeConfig, nodeConfigSchema, NODE_ENV_PREFIX, type NodeConfig, type NodeConfigInput, type NodeConfigOverrides } from './node.js'
export { loadPeersFile, writePeersFile, peersFileText, type Member } from './peers.js'
export { readTomlFile, parseToml, toToml } from './toml.js'
export { resolveLayers, describeSource, type Layer, type Source } from './loader.js'
