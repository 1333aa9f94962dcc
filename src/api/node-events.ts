import type { CommitteeChangeJson } from '../epochs/committee-chain.js'
import type { EpochRecordJson } from '../epochs/record.js'
import type { EvidenceEvent } from '../rewards/evidence-submitter.js'
import { EventFeed } from './ws-feed.js'
import { committedSummary } from '../epochs/epoch-summary.js'
import { eventId } from './ws-frames.js'

/**
 * The node's events besides delivered blocks, for `WS /ephemera/broadcast/ws`: the composition
 * root (src/node/node.ts) hands these methods to the parts that see them happen.
 */
export class NodeEvents extends EventFeed {
  /** The node adopted the official record of an epoch (verified and stored). */
  epochAdopted (record: EpochRecordJson): void {
    this.emit('epoch', () => committedSummary(record), eventId.epoch(record.epoch))
  }

  /** The node learned a committee change from the coordinator (its view stored). */
  committeeLearned (change: CommitteeChangeJson): void {
    this.emit('committee', () => change, eventId.committee(change.decidedAt))
  }

  /** Equivocation evidence detected (checked and queued; on a messages node, seen), sent to the coordinator, or dropped after retries. */
  evidence (evidence: EvidenceEvent): void {
    this.emit('evidence', () => evidence)
  }
}
