import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { inclusionProof, leafHash, merkleRoot, nodeHash, verifyInclusion, type InclusionProof } from '../../../src/crypto/merkle.js'

/* An independent, straightforward RFC 6962 §2.1 implementation over node:crypto. */

function sha (...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

const refLeaf = (d: Uint8Array): Uint8Array => sha(new Uint8Array([0x00]), d)
const refNode = (l: Uint8Array, r: Uint8Array): Uint8Array => sha(new Uint8Array([0x01]), l, r)

/** k = the largest power of two strictly smaller than n (n ≥ 2). */
function largestPowerOfTwoBelow (n: number): number {
  let k = 1
  while (k << 1 < n) k <<= 1
  return k
}

/** MTH(D[n]) */
function refMth (d: readonly Uint8Array[]): Uint8Array {
  if (d.length === 0) return sha()
  if (d.length === 1) return refLeaf(d[0] as Uint8Array)
  const k = largestPowerOfTwoBelow(d.length)
  return refNode(refMth(d.slice(0, k)), refMth(d.slice(k)))
}

/** PATH(m, D[n]), leaf-to-root order. */
function refPath (m: number, d: readonly Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return []
  const k = largestPowerOfTwoBelow(d.length)
  return m < k
    ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))]
    : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))]
}

/** Recomputes the root from an audit path by following the tree shape; undefined when the path does not fit. */
function refRootFromPath (value: Uint8Array, index: number, size: number, path: readonly Uint8Array[]): Uint8Array | undefined {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return undefined
  if (path.some((p) => p.length !== 32)) return undefined
  const walk = (i: number, n: number, depth: number): Uint8Array | undefined => {
    // depth counts path elements still to be consumed above this subtree
    if (n === 1) return depth === 0 ? refLeaf(value) : undefined
    if (depth === 0) return undefined
    const k = largestPowerOfTwoBelow(n)
    const sibling = path[depth - 1] as Uint8Array
    if (i < k) {
      const below = walk(i, k, depth - 1)
      return below == null ? undefined : refNode(below, sibling)
    }
    const below = walk(i - k, n - k, depth - 1)
    return below == null ? undefined : refNode(sibling, below)
  }
  return walk(index, size, path.length)
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Deterministic distinct 32-byte values. */
function values (n: number, salt = 0): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => sha(new TextEncoder().encode(`leaf ${salt}:${i}`)))
}

function flipBit (bytes: Uint8Array, byte: number, bit = 0): Uint8Array {
  const out = Uint8Array.from(bytes)
  out[byte] = (out[byte] as number) ^ (1 << bit)
  return out
}

const SIZES = Array.from({ length: 41 }, (_, i) => i)

describe('merkleRoot', () => {
  it('the empty root is SHA-256 of empty input', () => {
    expect(toHex(merkleRoot([]))).toBe(createHash('sha256').update(new Uint8Array(0)).digest('hex'))
    expect(toHex(merkleRoot([]))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('leafHash and nodeHash are the RFC 6962 domain-separated hashes', () => {
    const [a, b] = values(2) as [Uint8Array, Uint8Array]
    expect(toHex(leafHash(a))).toBe(toHex(refLeaf(a)))
    expect(toHex(nodeHash(a, b))).toBe(toHex(refNode(a, b)))
    expect(toHex(leafHash(a))).not.toBe(toHex(sha(a)))
  })

  it.each(SIZES)('matches the reference MTH for %i leaves', (n) => {
    const d = values(n)
    expect(toHex(merkleRoot(d))).toBe(toHex(refMth(d)))
  })

  it('matches the reference for leaves of any length (property)', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }), (d) => {
      expect(toHex(merkleRoot(d))).toBe(toHex(refMth(d)))
    }))
  })

  it('small trees by hand', () => {
    const [a, b, c] = values(3) as [Uint8Array, Uint8Array, Uint8Array]
    expect(toHex(merkleRoot([a]))).toBe(toHex(sha(new Uint8Array([0]), a)))
    expect(toHex(merkleRoot([a, b]))).toBe(toHex(sha(new Uint8Array([1]), refLeaf(a), refLeaf(b))))
    // 3 leaves: k = 2, so the split is ([a, b], [c]) — not ([a], [b, c])
    expect(toHex(merkleRoot([a, b, c]))).toBe(toHex(refNode(refNode(refLeaf(a), refLeaf(b)), refLeaf(c))))
  })

  it('depends on order, on every leaf and on the number of leaves', () => {
    const d = values(5)
    const root = toHex(merkleRoot(d))
    expect(toHex(merkleRoot([...d].reverse()))).not.toBe(root)
    for (let i = 0; i < d.length; i++) {
      const changed = [...d]
      changed[i] = flipBit(d[i] as Uint8Array, 31, 7)
      expect(toHex(merkleRoot(changed))).not.toBe(root)
    }
    expect(toHex(merkleRoot(d.slice(0, 4)))).not.toBe(root)
    // duplicating the last leaf (the Bitcoin-tree weakness) changes the root
    expect(toHex(merkleRoot([...d, d[4] as Uint8Array]))).not.toBe(root)
  })
})

describe('inclusionProof + verifyInclusion', () => {
  it.each(SIZES.slice(1))('every index of a %i-leaf tree has the RFC 6962 path and verifies', (n) => {
    const d = values(n)
    const root = merkleRoot(d)
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(d, i)
      expect(proof.index).toBe(i)
      expect(proof.treeSize).toBe(n)
      expect(proof.path.map(toHex)).toEqual(refPath(i, d).map(toHex))
      expect(verifyInclusion(d[i] as Uint8Array, proof, root)).toBe(true)
    }
  })

  it('inclusionProof refuses an out-of-range index', () => {
    const d = values(3)
    expect(() => inclusionProof(d, -1)).toThrow(RangeError)
    expect(() => inclusionProof(d, 3)).toThrow(RangeError)
    expect(() => inclusionProof(d, 1.5)).toThrow(RangeError)
    expect(() => inclusionProof([], 0)).toThrow(RangeError)
  })

  it.each(SIZES.slice(1))('a %i-leaf proof fails for a wrong leaf, a wrong index or a tampered path element', (n) => {
    const d = values(n)
    const other = values(1, 99)[0] as Uint8Array
    const root = merkleRoot(d)
    for (let i = 0; i < n; i++) {
      const value = d[i] as Uint8Array
      const proof = inclusionProof(d, i)
      // wrong leaf: another leaf of the same tree, a foreign value, the leaf hash itself
      if (n > 1) expect(verifyInclusion(d[(i + 1) % n] as Uint8Array, proof, root)).toBe(false)
      expect(verifyInclusion(other, proof, root)).toBe(false)
      expect(verifyInclusion(flipBit(value, 0), proof, root)).toBe(false)
      expect(verifyInclusion(leafHash(value), proof, root)).toBe(false)
      // wrong index
      for (let j = 0; j < n; j++) {
        if (j !== i) expect(verifyInclusion(value, { ...proof, index: j }, root)).toBe(false)
      }
      // each path element tampered (first and last byte)
      for (let p = 0; p < proof.path.length; p++) {
        for (const at of [0, 31]) {
          const path = [...proof.path]
          path[p] = flipBit(path[p] as Uint8Array, at, 3)
          expect(verifyInclusion(value, { ...proof, path }, root)).toBe(false)
        }
      }
      // path elements swapped
      if (proof.path.length >= 2) expect(verifyInclusion(value, { ...proof, path: [...proof.path].reverse() }, root)).toBe(false)
      // extra or missing path element
      expect(verifyInclusion(value, { ...proof, path: [...proof.path, root] }, root)).toBe(false)
      expect(verifyInclusion(value, { ...proof, path: [new Uint8Array(32), ...proof.path] }, root)).toBe(false)
      if (proof.path.length > 0) {
        expect(verifyInclusion(value, { ...proof, path: proof.path.slice(0, -1) }, root)).toBe(false)
        expect(verifyInclusion(value, { ...proof, path: proof.path.slice(1) }, root)).toBe(false)
      }
      // the wrong root
      expect(verifyInclusion(value, proof, merkleRoot(values(n, 1)))).toBe(false)
      expect(verifyInclusion(value, proof, root.subarray(0, 31))).toBe(false)
    }
  })

  it('a wrong tree size fails whenever the claimed size does not reproduce the root (differential, sizes 1..40)', () => {
    let rejected = 0
    for (let n = 1; n <= 40; n++) {
      const d = values(n)
      const root = merkleRoot(d)
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(d, i)
        for (let size = 0; size <= 42; size++) {
          const claimed = { ...proof, treeSize: size }
          const expected = refRootFromPath(d[i] as Uint8Array, i, size, proof.path)
          const ok = verifyInclusion(d[i] as Uint8Array, claimed, root)
          expect(ok, `n=${n} i=${i} claimed size ${size}`).toBe(expected != null && toHex(expected) === toHex(root))
          if (size !== n && !ok) rejected++
        }
      }
    }
    // sanity: the differential check is not vacuous
    expect(rejected).toBeGreaterThan(20_000)
  })

  it('a wrong tree size fails (explicit cases)', () => {
    const d8 = values(8)
    const root8 = merkleRoot(d8)
    const p5 = inclusionProof(d8, 5) // 3 path elements
    expect(verifyInclusion(d8[5] as Uint8Array, { ...p5, treeSize: 6 }, root8)).toBe(false)
    expect(verifyInclusion(d8[5] as Uint8Array, { ...p5, treeSize: 16 }, root8)).toBe(false)
    expect(verifyInclusion(d8[5] as Uint8Array, { ...p5, treeSize: 5 }, root8)).toBe(false)
    const d7 = values(7)
    const root7 = merkleRoot(d7)
    const p6 = inclusionProof(d7, 6) // last leaf of 7: path [n45, n0123]
    expect(p6.path).toHaveLength(2)
    expect(verifyInclusion(d7[6] as Uint8Array, { ...p6, treeSize: 8 }, root7)).toBe(false)
    expect(verifyInclusion(d7[6] as Uint8Array, { ...p6, treeSize: 7 }, root7)).toBe(true)
  })

  it('negative, out-of-range and non-integer indexes or sizes give false, never a throw', () => {
    const d = values(5)
    const root = merkleRoot(d)
    const proof = inclusionProof(d, 2)
    const v = d[2] as Uint8Array
    const bad: Array<Partial<InclusionProof>> = [
      { index: -1 }, { index: 5 }, { index: 6 }, { index: 2.5 }, { index: NaN }, { index: Infinity },
      { treeSize: 0 }, { treeSize: 2 }, { treeSize: -5 }, { treeSize: 5.5 }, { treeSize: NaN },
      { index: -1, treeSize: 4 }, { index: 0, treeSize: 0, path: [] }
    ]
    for (const patch of bad) {
      expect(() => verifyInclusion(v, { ...proof, ...patch }, root)).not.toThrow()
      expect(verifyInclusion(v, { ...proof, ...patch }, root), JSON.stringify(patch)).toBe(false)
    }
  })

  it('non-32-byte path elements give false, never a throw', () => {
    const d = values(4)
    const root = merkleRoot(d)
    const proof = inclusionProof(d, 1)
    const v = d[1] as Uint8Array
    const variants: unknown[][] = [
      [proof.path[0]?.subarray(0, 31), proof.path[1]],
      [proof.path[0], Uint8Array.from([...(proof.path[1] as Uint8Array), 0])],
      [new Uint8Array(0), proof.path[1]],
      [proof.path[0], toHex(proof.path[1] as Uint8Array)],
      [proof.path[0], null],
      [proof.path[0], [...(proof.path[1] as Uint8Array)]]
    ]
    for (const path of variants) {
      const p = { ...proof, path: path as Uint8Array[] }
      expect(() => verifyInclusion(v, p, root)).not.toThrow()
      expect(verifyInclusion(v, p, root)).toBe(false)
    }
  })

  it('never throws on random proofs (property)', () => {
    const d = values(9)
    const root = merkleRoot(d)
    fc.assert(fc.property(
      fc.integer({ min: -3, max: 20 }), fc.integer({ min: -3, max: 20 }),
      fc.array(fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 }), fc.constantFrom(...inclusionProof(d, 3).path)), { maxLength: 8 }),
      fc.uint8Array({ maxLength: 40 }),
      (index, treeSize, path, value) => {
        let result: boolean | undefined
        expect(() => { result = verifyInclusion(value, { index, treeSize, path }, root) }).not.toThrow()
        expect(typeof result).toBe('boolean')
        const expected = refRootFromPath(value, index, treeSize, path)
        expect(result).toBe(expected != null && toHex(expected) === toHex(root))
      }))
  })
})

describe('leaf / inner node domain separation', () => {
  it('an inner node presented as a leaf does not verify as a proof one level up', () => {
    const d = values(4)
    const [l0, l1, l2, l3] = d.map(refLeaf) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]
    const n01 = nodeHash(l0, l1)
    const n23 = nodeHash(l2, l3)
    const root = merkleRoot(d)
    expect(toHex(nodeHash(n01, n23))).toBe(toHex(root))
    // the forged "proof": leaf n01 at index 0 of a 2-leaf tree whose sibling is n23.
    // Without leaf hashing (leaf = identity) this would rebuild the root exactly:
    expect(toHex(refNode(n01, n23))).toBe(toHex(root))
    // with the 0x00 leaf prefix it does not
    expect(verifyInclusion(n01, { index: 0, treeSize: 2, path: [n23] }, root)).toBe(false)
    expect(verifyInclusion(n23, { index: 1, treeSize: 2, path: [n01] }, root)).toBe(false)
  })

  it('a tree whose single leaf is the concatenation of two child hashes has a different root (second preimage)', () => {
    const d = values(2)
    const [l0, l1] = d.map(refLeaf) as [Uint8Array, Uint8Array]
    const two = merkleRoot(d) // SHA-256(0x01 ‖ l0 ‖ l1)
    const concatenated = new Uint8Array([...l0, ...l1])
    const one = merkleRoot([concatenated]) // SHA-256(0x00 ‖ l0 ‖ l1)
    expect(toHex(one)).not.toBe(toHex(two))
    // and the difference is exactly the domain byte
    expect(toHex(two)).toBe(toHex(sha(new Uint8Array([1]), concatenated)))
    expect(toHex(one)).toBe(toHex(sha(new Uint8Array([0]), concatenated)))
    // the 64-byte "leaf" does not verify as a 1-leaf tree against the 2-leaf root
    expect(verifyInclusion(concatenated, { index: 0, treeSize: 1, path: [] }, two)).toBe(false)
  })
})
