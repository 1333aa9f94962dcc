import { Command } from 'commander'
import { fromHex } from '../../codec/bytes.js'
import { blockFromJson, certificateFromJson, type CertificateJson } from '../../block/json.js'
import { verifyCertifiedBlock } from '../../block/verify.js'
import { loadPeersFile } from '../../config/index.js'
import { publicKeyFromPeerId } from '../../crypto/keys.js'
import { verifyPortable } from '../../crypto/portable.js'
import type { DeliveredBlockJson } from '../../api/broadcast-routes.js'
import { EphemeraError, ErrorCode } from '../../util/errors.js'
import { nodeUrl, requestJson } from '../http-client.js'
import { intOption, printJson, println, table } from '../output.js'

interface BlockSummary {
  localHeight: number
  hash: string
  round: number
  creator: string
  height: number
  createdAt: number
  messageCount: number
  deliveredAt: string
}

interface BroadcastInfo {
  membershipId: string
  size: number
  quorum: number
  members: Array<{ name: string, peerId: string, publicKey: string }>
}

/** Resolves HASH | HEIGHT | last to the block's API path. */
function blockPath (ref: string): string {
  if (ref === 'last') return '/ephemera/broadcast/blocks/last'
  if (/^\d+$/.test(ref)) return `/ephemera/broadcast/block/height/${ref}`
  if (fromHex(ref, 32) != null) return `/ephemera/broadcast/block/${ref.toLowerCase()}`
  throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `expected a block hash (64 hex), a local height or "last", got "${ref}"`)
}

function shortId (peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
}

function printBlock (block: DeliveredBlockJson): void {
  const h = block.header
  println(`block ${block.hash}`)
  println(`  local height  ${block.localHeight} (delivered ${block.deliveredAt})`)
  println(`  round         ${h.round}`)
  println(`  creator       ${h.creator} (its block #${h.height})`)
  println(`  created       ${new Date(h.createdAt).toISOString()}`)
  println(`  membership    ${h.membershipId}`)
  println(`  messages      ${h.messageCount}, root ${h.messagesRoot}`)
  for (const m of block.messages) {
    const data = Buffer.from(m.data, 'base64')
    const preview = /^[\x20-\x7e]*$/.test(data.toString('latin1')) ? JSON.stringify(data.toString('latin1').slice(0, 60)) : `${data.length} bytes`
    println(`    ${m.id.slice(0, 16)}  ${m.label}  ${preview}`)
  }
}

export function blocksCommand (): Command {
  const blocks = new Command('blocks').description('inspect and verify certified blocks stored by a node')
  blocks.command('list')
    .description('list the node\'s delivered blocks, newest first')
    .requiredOption('--node <url>', 'node HTTP URL')
    .option('--limit <n>', 'how many', intOption(1, 1000), 20)
    .option('--from <height>', 'start at this local height (newest first from there)', intOption(1, Number.MAX_SAFE_INTEGER))
    .option('--json', 'print the result as JSON', false)
    .action(async (opts: { node: string, limit: number, from?: number, json: boolean }) => {
      const query = new URLSearchParams({ limit: String(opts.limit), order: 'desc', ...(opts.from != null ? { from: String(opts.from) } : {}) })
      const result = await requestJson<{ lastHeight: number, blocks: BlockSummary[] }>('GET', `${nodeUrl(opts.node)}/ephemera/broadcast/blocks?${query.toString()}`)
      if (opts.json) {
        printJson(result)
        return
      }
      if (result.blocks.length === 0) {
        println('no blocks delivered yet')
        return
      }
      println(table([['HEIGHT', 'HASH', 'ROUND', 'CREATOR', 'MSGS', 'DELIVERED'], ...result.blocks.map((b) => [
        String(b.localHeight), b.hash, String(b.round), shortId(b.creator), String(b.messageCount), b.deliveredAt
      ])]))
    })
  blocks.command('show')
    .description('show one block: by hash, by local height, or the last one')
    .argument('<block>', 'HASH | HEIGHT | last')
    .requiredOption('--node <url>', 'node HTTP URL')
    .option('--json', 'print the block as JSON', false)
    .action(async (ref: string, opts: { node: string, json: boolean }) => {
      const block = await requestJson<DeliveredBlockJson>('GET', `${nodeUrl(opts.node)}${blockPath(ref)}`)
      if (opts.json) printJson(block)
      else printBlock(block)
    })
  blocks.command('verify')
    .description('re-check a block and its certificate from what the node publishes: exit 0 only if all holds')
    .argument('<block>', 'HASH | HEIGHT | last')
    .requiredOption('--node <url>', 'node HTTP URL')
    .option('--peers <file>', 'check signers against this peers file instead of the membership the node reports')
    .option('--json', 'print the report as JSON', false)
    .addHelpText('after', `
Checks: the header hashes to the block hash; the messages' Merkle root and count match the header;
every message signature; the membership hashes to the header's membership id; the certificate
names this block; every certificate signature is a valid READY signature of a distinct member; and
at least q = n - floor((n-1)/3) members signed. Signatures are checked with @noble/ed25519, an
implementation independent of the node's. Without --peers the membership comes from the node.`)
    .action(async (ref: string, opts: { node: string, peers?: string, json: boolean }) => {
      const base = nodeUrl(opts.node)
      const blockJson = await requestJson<DeliveredBlockJson>('GET', `${base}${blockPath(ref)}`)
      const [certJson, info] = await Promise.all([
        requestJson<CertificateJson>('GET', `${base}/ephemera/broadcast/block/certificates/${blockJson.hash}`),
        requestJson<BroadcastInfo>('GET', `${base}/ephemera/broadcast/block/broadcast_info/${blockJson.hash}`)
      ])
      const block = blockFromJson(blockJson)
      if (!block.ok) throw new EphemeraError(ErrorCode.VERIFY_FAILED, `verification failed: the node's block is malformed (${block.error})`)
      const certificate = certificateFromJson(certJson)
      if (!certificate.ok) throw new EphemeraError(ErrorCode.VERIFY_FAILED, `verification failed: the node's certificate is malformed (${certificate.error})`)
      const members = opts.peers != null
        ? (await loadPeersFile(opts.peers)).map((m) => publicKeyFromPeerId(m.peerId))
        : info.members.map((m) => fromHex(m.publicKey, 32)).filter((k): k is Uint8Array => k != null)
      const report = verifyCertifiedBlock({ ...block.value, certificate: certificate.value, members, verify: verifyPortable })
      if (opts.json) {
        printJson({ hash: blockJson.hash, membershipSource: opts.peers ?? 'node', ...report })
      } else {
        println(`block ${blockJson.hash} (local height ${blockJson.localHeight} on ${base})`)
        for (const c of report.checks) println(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`)
      }
      if (!report.ok) throw new EphemeraError(ErrorCode.VERIFY_FAILED, `verification failed: ${report.failure ?? ''}`)
      if (!opts.json) println(`verified: ${report.signers} of ${members.length} members signed (quorum ${report.quorum})`)
    })
  return blocks
}
