import { readFile } from 'node:fs/promises'
import { Command, Option } from 'commander'
import { fromBase64, fromHex, toBase64, toHex } from '../../codec/bytes.js'
import { messageSigningBytes } from '../../block/encoding.js'
import { readKeyFile } from '../../crypto/keys.js'
import { EphemeraError, ErrorCode } from '../../util/errors.js'
import { sleep } from '../../util/time.js'
import { nodeUrl, requestJson } from '../http-client.js'
import { intOption, printJson, println } from '../output.js'

interface SubmitOptions {
  node: string
  key: string
  label: string
  data?: string
  dataFile?: string
  encoding: 'utf8' | 'base64' | 'hex'
  timestamp?: number
  wait?: number
  json: boolean
}

function decodeData (text: string, encoding: SubmitOptions['encoding']): Uint8Array {
  if (encoding === 'utf8') return new TextEncoder().encode(text)
  const bytes = encoding === 'hex' ? fromHex(text) : fromBase64(text)
  if (bytes == null) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `--data is not valid ${encoding}`)
  return bytes
}

async function submit (opts: SubmitOptions): Promise<void> {
  if ((opts.data == null) === (opts.dataFile == null)) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, 'give exactly one of --data and --data-file')
  const data = opts.dataFile != null ? new Uint8Array(await readFile(opts.dataFile)) : decodeData(opts.data as string, opts.encoding)
  const key = await readKeyFile(opts.key)
  const timestamp = opts.timestamp ?? Date.now()
  const signature = key.sign(messageSigningBytes({ timestamp, label: opts.label, data }))
  const base = nodeUrl(opts.node)
  const body = { timestamp, label: opts.label, data: toBase64(data), publicKey: toHex(key.publicKey), signature: toHex(signature) }
  const accepted = await requestJson<{ id: string, status: string }>('POST', `${base}/ephemera/broadcast/submit_message`, body)
  let result: Record<string, unknown> = { ...accepted }
  if (opts.wait != null) {
    const deadline = Date.now() + opts.wait * 1000
    for (;;) {
      const status = await requestJson<{ status: string, blockHash?: string, index?: number }>('GET', `${base}/ephemera/messages/${accepted.id}`)
      result = { ...result, ...status }
      if (status.status === 'delivered') break
      if (Date.now() > deadline) throw new EphemeraError(ErrorCode.TIMEOUT, `message ${accepted.id} was accepted but not in a block within ${opts.wait} s`)
      await sleep(200)
    }
  }
  if (opts.json) {
    printJson(result)
    return
  }
  println(`message ${accepted.id} ${String(result.status)}${result.blockHash != null ? ` in block ${String(result.blockHash)} (index ${String(result.index)})` : ''}`)
}

export function messagesCommand (): Command {
  const messages = new Command('messages').description('submit signed client messages to a node')
  messages.command('submit')
    .description('sign a message with a key file and submit it; it is gossiped, put in a block and certified')
    .requiredOption('--node <url>', 'node HTTP URL, e.g. http://127.0.0.1:7002')
    .requiredOption('--key <file>', 'Ed25519 key file that signs the message (any key; it need not be a member\'s)')
    .requiredOption('--label <label>', 'message label')
    .option('--data <text>', 'message data (see --encoding)')
    .option('--data-file <file>', 'read the message data from a file (raw bytes)')
    .addOption(new Option('--encoding <encoding>', 'how --data is written').choices(['utf8', 'base64', 'hex']).default('utf8'))
    .option('--timestamp <ms>', 'message timestamp (default: now)', intOption(0, Number.MAX_SAFE_INTEGER))
    .option('--wait <seconds>', 'wait until the message is in a delivered block', intOption(1, 3600))
    .option('--json', 'print the result as JSON', false)
    .action(async (opts: SubmitOptions) => { await submit(opts) })
  return messages
}
