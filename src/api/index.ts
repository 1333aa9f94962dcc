export { HttpServer, type HttpServerOptions } from './server.js'
export { registerNodeRoutes, type NodeApiSource, type NodeHealth } from './node-routes.js'
export type { ApiErrorBody } from './errors.js'
export { registerBroadcastRoutes, storedBlockToJson, type DeliveredBlockJson } from './broadcast-routes.js'
