import { Command, CommanderError } from 'commander'
import { errorMessage, isEphemeraError } from '../util/errors.js'
import { clusterCommand } from './cluster/index.js'
import { initCommand } from './init/index.js'
import { keysCommand } from './keys/index.js'
import { nodeCommand } from './node/index.js'
import { messagesCommand } from './messages/index.js'
import { blocksCommand } from './blocks/index.js'
import { contractCommand } from './contract/index.js'
import { epochsCommand } from './epochs/index.js'
import { verifyCommand } from './verify/index.js'
import { endQuietlyOnClosedPipe } from './output.js'
import { VERSION } from '../util/version.js'
import { validatorCommand } from './validator/index.js'

export { VERSION } from '../util/version.js'

export function buildProgram (): Command {
  const program = new Command('ephemera')
    .description('ephemera-ts: a peer-to-peer rewards consensus node and its epoch coordinator')
    .version(VERSION)
    .showSuggestionAfterError(true)
    .addHelpText('after', '\nLOG_LEVEL (trace, debug, info, warn, error, silent) sets the log level of running processes.')
  for (const command of [initCommand(), nodeCommand(), validatorCommand(), contractCommand(), clusterCommand(), epochsCommand(), verifyCommand(), messagesCommand(), blocksCommand(), keysCommand()]) program.addCommand(command)
  // every (sub)command: usage errors become one line and exit code 2, never a stack
  const configure = (cmd: Command): void => {
    cmd.exitOverride()
    cmd.configureOutput({ outputError: (str, write) => { write(str.split('\n')[0] + '\n') } })
    for (const sub of cmd.commands) configure(sub)
  }
  configure(program)
  return program
}

/** Runs the CLI; returns the exit code. Expected errors print one line, no stack. */
export async function main (argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe()
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version "errors" are successes; usage errors were already printed
      return err.exitCode === 0 ? 0 : 2
    }
    process.stderr.write(`error: ${errorMessage(err).split('\n')[0] ?? ''}\n`)
    if (!isEphemeraError(err) && process.env.LOG_LEVEL === 'debug' && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`)
    return 1
  }
}
