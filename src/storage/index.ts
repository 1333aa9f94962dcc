export { Database, Bucket, type Repository, type BucketName } from './database.js'
export { NodeMetaStore, type NodeMeta } from './node-meta.js'
