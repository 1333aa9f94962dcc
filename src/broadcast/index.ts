export { BroadcastEngine, MESSAGES_TOPIC, type BroadcastOptions, type BroadcastModules, type BroadcastMember, type BroadcastStats, type SubmitResult } from './engine.js'
export { BlockProducer, type ProducerOptions } from './producer.js'
export { DefaultApplication, ACCEPT, reject, type Application, type Verdict, type DeliveredBlock } from './application.js'
export { RbcMachine, thresholds, type RbcMessage, type Effect, type PersistedVote, type RbcCrypto } from './machine.js'
