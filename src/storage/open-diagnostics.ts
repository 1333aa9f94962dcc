import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** What Database.open (src/storage/database.ts) tells an operator when LevelDB cannot open a store, or lost records while opening it. */

/** The refusal when LevelDB cannot open the store: what failed, LevelDB's words, and what to do. */
export function openFailure (path: string, dir: string, code: string | undefined, message: string): string {
  if (/no space left on device/i.test(message)) {
    return `cannot open database ${path}: the disk is full (LevelDB: ${message}). Free space on that disk and start again (LevelDB needs room to open: it replays its log into a new table); nothing that was acknowledged is lost`
  }
  if (code === 'LEVEL_CORRUPTION' || /corruption/i.test(message)) {
    return `database ${path} is damaged (LevelDB: ${message}). Restore ${dir} from a backup, or move it aside (mv ${dir} ${dir}.damaged) and start with an empty one: a node then re-syncs certified blocks from its peers; a coordinator starts a new genesis`
  }
  return `cannot open database ${path} (LevelDB: ${message}). Check that disk (space, permissions, I/O errors in the kernel log) and start again; if the store is damaged, restore ${dir} from a backup or move it aside`
}

/**
 * The records LevelDB dropped while replaying its log at this open. With paranoid checks off
 * (classic-level has no option for them) it skips a damaged log block silently, writing only a
 * "(ignoring error) …: dropping N bytes; Corruption: …" line to its info log, which it starts
 * afresh at every open. Best effort: no info log means nothing to report.
 */
export async function recoveryLosses (path: string): Promise<string[]> {
  let text: string
  try {
    text = await readFile(join(path, 'LOG'), 'utf8')
  } catch {
    return []
  }
  const losses: string[] = []
  for (const line of text.split('\n')) {
    const at = line.indexOf('(ignoring error) ')
    if (at >= 0 && line.includes('dropping')) losses.push(line.slice(at + '(ignoring error) '.length).trim())
  }
  return losses
}
