export { EphemeraNode, type NodeModules } from './node.js'
