/**
 * The buckets of the level database (src/storage/database.ts): callers see typed stores over
 * prefixed sublevels, never raw keys. Bucket names are permanent: renaming one orphans its data.
 */
export const Bucket = {
  meta: 'meta',
  /** block hash (hex) → encoded block */
  block: 'block',
  /** block hash (hex) → encoded certificate */
  certificate: 'cert',
  /** block hash (hex) → delivery record (JSON) */
  blockInfo: 'block-info',
  /** local height (16 digits) → block hash (hex) */
  height: 'height',
  /** membership id (hex) → member list (JSON) */
  membership: 'membership',
  /** message id (hex) → {block, index} (JSON) */
  messageIndex: 'msg',
  /** legacy (before creator floors): `round:creator:kind` → hash; migrated into rbcVote once */
  vote: 'vote',
  /** legacy: `round:creator:hash` → signed proposal; migrated into rbcEvidence once */
  evidence: 'evidence',
  /** `creator:round(16 digits):kind` → hash: the RBC votes this node sent, above the creator's floor */
  rbcVote: 'rbc-vote',
  /** `creator:round(16 digits)` → [hash, proposal signature | null]: instances decided above the floor */
  rbcDecided: 'rbc-decided',
  /** creator → round: every round ≤ it is closed for that creator (never voted on again) */
  rbcFloor: 'rbc-floor',
  /** `round(16 digits):creator` → the first two conflicting signed proposals of that slot */
  rbcEvidence: 'rbc-evidence',
  /** `message id:block hash` → index: every block a delivered message is in */
  messageLocation: 'msg-loc',
  /**
   * message id (hex) → empty: every message in a delivered block, the duplicate check's point
   * lookup (msg-loc needs a range scan); filled from msg-loc and msg once, on the first open
   */
  messageDelivered: 'msg-seen',
  /** this node's own proposals (producer state) */
  producer: 'producer',
  /** simulated uptime samples: time (16 digits) → one byte per mixnode */
  metrics: 'metrics',
  /** rewards pipeline: epoch (16 digits) → per-epoch state (JSON) */
  epoch: 'epoch',
  /** rewards reports: `epoch:sender` → report message (CBOR) */
  report: 'report',
  /** official epoch records adopted from the coordinator: epoch → record (JSON) */
  official: 'official',
  /** equivocating reports: `epoch:sender:id` → report message (CBOR) */
  reportEvidence: 'report-evidence',
  /** coordinator: genesis and settings */
  contractMeta: 'contract-meta',
  /** coordinator: epoch (16 digits) → accepted record (JSON) */
  contractRecord: 'contract-record',
  /** coordinator: `publicKey:nonce` → timestamp of requests already accepted (replay protection) */
  contractNonce: 'contract-nonce',
  /**
   * coordinator: an epoch's round (src/contract/round.ts): `<epoch>` → the round without rows and
   * anchor; `<epoch>:anchor` → its certified block and reports; `<epoch>:rows:<chunk>` → a chunk's rows
   */
  contractRound: 'contract-round',
  /** coordinator: evidence hash → the equivocation evidence behind a ban (JSON), kept with the ban */
  contractEvidence: 'contract-evidence'
} as const
export type BucketName = (typeof Bucket)[keyof typeof Bucket]
