export { Database, Bucket, jsonBytes, parseJsonBytes, type Repository, type BucketName, type WriteOp } from './database.js'
export { NodeMetaStore, type NodeMeta } from './node-meta.js'
export { BlockStore, type StoredBlock, type StoredMember, type BlockInfo, type DeliveredRecord, type MessageLocation } from './blocks.js'
export { VoteStore, type Vote, type SignedProposal, type ProducerState, type Decided, type EquivocationEvidence, type SignedHash, type RbcDurableState } from './votes.js'
