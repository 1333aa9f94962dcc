import { describe, expect, it } from 'vitest'
import { createLogger, logFormat } from '../../../src/util/logger.js'

describe('log format', () => {
  it('LOG_FORMAT chooses; otherwise pretty on a terminal and JSON anywhere else', () => {
    expect(logFormat({}, true)).toBe('pretty')
    expect(logFormat({}, false)).toBe('json')
    expect(logFormat({ LOG_FORMAT: 'json' }, true)).toBe('json')
    expect(logFormat({ LOG_FORMAT: 'PRETTY' }, false)).toBe('pretty')
    expect(logFormat({ LOG_FORMAT: 'xml' }, false)).toBe('json')
  })

  it('JSON lines carry the level name, the time and the fields', () => {
    const lines: string[] = []
    const logger = createLogger({ format: 'json', level: 'info', destination: { write: (l: string) => { lines.push(l) } } })
    logger.info({ epoch: 3 }, 'epoch committed')
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 'info', epoch: 3, msg: 'epoch committed' })
  })
})
