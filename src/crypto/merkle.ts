import { sha256 } from './hash.js'
import { equalBytes } from '../codec/bytes.js'

/**
 * The Merkle tree of RFC 6962 §2.1 over 32-byte leaf values (message ids), with domain-separated
 * leaves (0x00) and inner nodes (0x01), so a leaf can never pass for an inner node:
 *
 *   MTH({})     = SHA-256()
 *   MTH({d0})   = SHA-256(0x00 || d0)
 *   MTH(D[0:n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))   k = largest power of 2 < n
 *
 * Inclusion proofs are RFC 6962 audit paths; verification is bounds-checked and never throws.
 */

const LEAF = new Uint8Array([0])
const NODE = new Uint8Array([1])

export function leafHash (value: Uint8Array): Uint8Array {
  return sha256(LEAF, value)
}

export function nodeHash (left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE, left, right)
}

function splitPoint (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function subtreeRoot (leaves: readonly Uint8Array[], start: number, end: number): Uint8Array {
  const n = end - start
  if (n === 1) return leaves[start] as Uint8Array
  const k = splitPoint(n)
  return nodeHash(subtreeRoot(leaves, start, start + k), subtreeRoot(leaves, start + k, end))
}

export function merkleRoot (values: readonly Uint8Array[]): Uint8Array {
  if (values.length === 0) return sha256(new Uint8Array(0))
  return subtreeRoot(values.map(leafHash), 0, values.length)
}

export interface InclusionProof {
  index: number
  treeSize: number
  /** Sibling hashes from the leaf up to the root. */
  path: Uint8Array[]
}

export function inclusionProof (values: readonly Uint8Array[], index: number): InclusionProof {
  if (!Number.isInteger(index) || index < 0 || index >= values.length) throw new RangeError(`leaf index ${index} out of range 0..${values.length - 1}`)
  const leaves = values.map(leafHash)
  const path: Uint8Array[] = []
  const walk = (start: number, end: number, target: number): void => {
    const n = end - start
    if (n === 1) return
    const k = splitPoint(n)
    if (target < start + k) {
      walk(start, start + k, target)
      path.push(subtreeRoot(leaves, start + k, end))
    } else {
      walk(start + k, end, target)
      path.push(subtreeRoot(leaves, start, start + k))
    }
  }
  walk(0, values.length, index)
  return { index, treeSize: values.length, path }
}

/** RFC 9162 §2.1.3.2 verification of an audit path; false for any malformed input. */
export function verifyInclusion (value: Uint8Array, proof: InclusionProof, root: Uint8Array): boolean {
  const { index, treeSize, path } = proof
  if (!Number.isInteger(index) || !Number.isInteger(treeSize) || index < 0 || index >= treeSize) return false
  if (!path.every((p) => p instanceof Uint8Array && p.length === 32)) return false
  let fn = index
  let sn = treeSize - 1
  let r = leafHash(value)
  for (const p of path) {
    if (sn === 0) return false
    if ((fn & 1) === 1 || fn === sn) {
      r = nodeHash(p, r)
      if ((fn & 1) === 0) {
        while ((fn & 1) === 0 && fn !== 0) {
          fn >>= 1
          sn >>= 1
        }
      }
    } else {
      r = nodeHash(r, p)
    }
    fn >>= 1
    sn >>= 1
  }
  return sn === 0 && equalBytes(r, root)
}
