import { Command } from 'commander'
import { NodeKey, readKeyFile, writeKeyFile } from '../../crypto/keys.js'
import { EphemeraError, ErrorCode } from '../../util/errors.js'
import { pathExists } from '../../util/fs.js'
import { printJson, println } from '../output.js'

function describe (key: NodeKey): { peerId: string, publicKeyHex: string, publicKeyBase64: string } {
  return {
    peerId: key.peerId.toString(),
    publicKeyHex: Buffer.from(key.publicKey).toString('hex'),
    publicKeyBase64: Buffer.from(key.publicKey).toString('base64')
  }
}

function printKey (key: NodeKey, json: boolean, file?: string): void {
  const info = describe(key)
  if (json) {
    printJson(file == null ? info : { file, ...info })
    return
  }
  if (file != null) println(`key file:    ${file}`)
  println(`peer id:     ${info.peerId}`)
  println(`public key:  ${info.publicKeyHex} (hex)`)
}

export function keysCommand (): Command {
  const keys = new Command('keys').description('generate and inspect node keys (Ed25519, PKCS#8 PEM files)')
  keys.command('generate')
    .description('write a new Ed25519 key file (mode 0600) and print its PeerId')
    .requiredOption('--out <file>', 'key file to write')
    .option('--force', 'overwrite an existing key file', false)
    .option('--json', 'print the result as JSON', false)
    .action(async (opts: { out: string, force: boolean, json: boolean }) => {
      if (await pathExists(opts.out) && !opts.force) throw new EphemeraError(ErrorCode.ALREADY_EXISTS, `${opts.out} already exists; refusing to overwrite a key (use --force)`)
      const key = NodeKey.generate()
      await writeKeyFile(opts.out, key)
      printKey(key, opts.json, opts.out)
    })
  keys.command('show')
    .description('print the PeerId and public key of a key file (never the private key)')
    .argument('<file>', 'key file')
    .option('--json', 'print the result as JSON', false)
    .action(async (file: string, opts: { json: boolean }) => {
      printKey(await readKeyFile(file), opts.json, file)
    })
  return keys
}
