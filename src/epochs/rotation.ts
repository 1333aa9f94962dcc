/**
 * Who uploads and who verifies each chunk of an epoch (docs/PROTOCOL.md §7.6). Members are the
 * committee's public keys (hex) sorted ascending; n = their number. The coordinator and the nodes
 * compute the same assignments, so a node knows its duties without asking.
 *
 *   lease holder of chunk c at lease attempt a, in round attempt r:
 *       members[(epoch + c + a + r) mod n]
 *   verifiers of chunk c contributed by member i, in round attempt r:
 *       the k members members[(i + 1 + r + j) mod n], j = 0, 1, …, skipping i (k ≤ n − 1)
 *
 * A lease attempt passes the chunk to the next member when its holder misses the lease deadline;
 * a round attempt is one try of the whole epoch (a rollback starts the next one), so a member that
 * keeps blocking a chunk is not assigned to it in every attempt.
 */

export function leaseHolder (members: readonly string[], epoch: number, chunk: number, leaseAttempt: number, roundAttempt: number): string {
  return members[(epoch + chunk + leaseAttempt + roundAttempt) % members.length] as string
}

export function chunkVerifiers (members: readonly string[], contributor: string, roundAttempt: number, k: number): string[] {
  const n = members.length
  const i = members.indexOf(contributor)
  if (i < 0) throw new RangeError('the contributor is not a member')
  const out: string[] = []
  for (let j = 1; out.length < Math.min(k, n - 1); j++) {
    const m = members[(i + j + roundAttempt) % n] as string
    if (m !== contributor && !out.includes(m)) out.push(m)
  }
  return out
}
