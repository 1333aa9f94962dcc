import { readFile } from 'node:fs/promises'
import { parse, stringify, TomlError } from 'smol-toml'
import { ConfigError, ErrorCode } from '../util/errors.js'
import { isErrnoException } from '../util/fs.js'

/** Reads and parses a TOML file; every failure is a one-line ConfigError naming the file. */
export async function readTomlFile (path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (isErrnoException(err) && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) {
      throw new ConfigError(`${path}: file does not exist`, { path }, ErrorCode.CONFIG_NOT_FOUND)
    }
    if (isErrnoException(err) && err.code === 'EISDIR') throw new ConfigError(`${path}: is a directory, expected a TOML file`, { path }, ErrorCode.CONFIG_NOT_FOUND)
    throw new ConfigError(`${path}: cannot read file (${isErrnoException(err) ? err.code : String(err)})`, { path }, ErrorCode.CONFIG_NOT_FOUND)
  }
  return parseToml(text, path)
}

export function parseToml (text: string, source: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>
  } catch (err) {
    if (err instanceof TomlError) {
      const firstLine = err.message.split('\n')[0] ?? 'syntax error'
      throw new ConfigError(`${source}:${err.line}:${err.column}: invalid TOML: ${firstLine}`, { path: source })
    }
    throw err
  }
}

export function toToml (value: Record<string, unknown>): string {
  return stringify(value)
}
