/**
 * Block and message types (docs/PROTOCOL.md §2). Keys, signatures and hashes are raw bytes here;
 * the HTTP API shows them as hex (and PeerIds for keys), data as base64.
 */

/** A signed client message: the signature covers {timestamp, label, data} (messageSigningBytes). */
export interface ClientMessage {
  /** Milliseconds since the Unix epoch, chosen by the client. */
  timestamp: number
  label: string
  data: Uint8Array
  /** 32-byte Ed25519 public key of the signer. */
  publicKey: Uint8Array
  /** 64-byte Ed25519 signature. */
  signature: Uint8Array
}

export const BLOCK_VERSION = 1

export interface BlockHeader {
  version: number
  /** RBC round of this block: the epoch for the rewards application; the creator's own counter otherwise. */
  round: number
  /** 32-byte Ed25519 public key of the creator (its PeerId embeds the same key). */
  creator: Uint8Array
  /** The creator's block sequence number: its first block has height 1. */
  height: number
  /** Creation time, ms since the Unix epoch. */
  createdAt: number
  /** Id of the membership the block is proposed under (membershipId). */
  membershipId: Uint8Array
  messageCount: number
  /** RFC 6962 Merkle root over the messages' ids, in block order. */
  messagesRoot: Uint8Array
}

export interface Block {
  header: BlockHeader
  messages: ClientMessage[]
}

/** One READY vote of a certificate. */
export interface ReadySignature {
  /** 32-byte public key of the member that signed. */
  signer: Uint8Array
  signature: Uint8Array
}

/** q or more READY signatures over (round, creator, block hash) by distinct members. */
export interface Certificate {
  round: number
  creator: Uint8Array
  blockHash: Uint8Array
  signatures: ReadySignature[]
}

/** Limits every decoder and validator enforces. */
export const LIMITS = {
  labelBytes: 256,
  dataBytes: 64 * 1024,
  messagesPerBlock: 2_000,
  blockBytes: 8 * 1024 * 1024,
  maxMembers: 1_000
} as const
