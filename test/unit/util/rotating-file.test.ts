import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'
import { RotatingFile } from '../../../src/util/rotating-file.js'
import { tempDir } from '../tmp.js'

describe('RotatingFile (log.file)', () => {
  let dir: string
  beforeEach(async () => { dir = await tempDir() })

  const line = (i: number): string => `{"i":${i},"msg":"${'x'.repeat(40)}"}\n`

  it('keeps at most maxFiles rotated files of at most maxBytes, newest lines last and none lost between them', async () => {
    const path = join(dir, 'node1.log')
    const file = new RotatingFile({ path, maxBytes: 1000, maxFiles: 3 })
    for (let i = 0; i < 2000; i++) file.write(line(i))
    file.close()
    expect((await readdir(dir)).sort()).toEqual(['node1.log', 'node1.log.1', 'node1.log.2', 'node1.log.3'])
    for (const name of await readdir(dir)) expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(1000)
    // oldest to newest, the kept lines are the last ones written, in order, without a gap
    const text = (await Promise.all(['node1.log.3', 'node1.log.2', 'node1.log.1', 'node1.log'].map(async (n) => await readFile(join(dir, n), 'utf8')))).join('')
    const kept = text.trim().split('\n').map((l) => (JSON.parse(l) as { i: number }).i)
    expect(kept.at(-1)).toBe(1999)
    expect(kept).toEqual(kept.map((_, k) => kept[0]! + k))
    expect(kept.length).toBeGreaterThan(3 * Math.floor(1000 / line(1999).length))
  })

  it('continues the live file after a restart and counts its size towards the bound', async () => {
    const path = join(dir, 'c.log')
    const first = new RotatingFile({ path, maxBytes: 1000, maxFiles: 1 })
    for (let i = 0; i < 10; i++) first.write(line(i))
    first.close()
    const second = new RotatingFile({ path, maxBytes: 1000, maxFiles: 1 })
    for (let i = 10; i < 25; i++) second.write(line(i))
    second.close()
    const live = (await readFile(path, 'utf8')).trim().split('\n')
    const rotated = (await readFile(`${path}.1`, 'utf8')).trim().split('\n')
    expect((JSON.parse(rotated[0]!) as { i: number }).i).toBe(0)
    expect(rotated.length + live.length).toBe(25)
    expect((await stat(`${path}.1`)).size).toBeLessThanOrEqual(1000)
  })

  it('drops lines it cannot write, reports them once per interval with a count, and recovers', async () => {
    const sub = join(dir, 'sub')
    await mkdir(sub)
    const path = join(sub, 'n.log')
    const reports: string[] = []
    let now = 0
    const file = new RotatingFile({ path, maxBytes: 100, maxFiles: 1, report: (l) => { reports.push(l) }, reportEveryMs: 1000, now: () => now })
    await rm(sub, { recursive: true })
    // line 0 still goes to the open (now unlinked) file; line 1 needs a rotation, which fails; 2-4 cannot open
    for (let i = 0; i < 5; i++) file.write(line(i))
    expect(reports).toHaveLength(1)
    expect(reports[0]).toMatch(/^log file .*n\.log: .*; 1 log line dropped\n$/)
    now = 1500
    file.write(line(5))
    expect(reports).toHaveLength(2)
    expect(reports[1]).toMatch(/: ENOENT: .*; 4 log lines dropped\n$/)
    await mkdir(sub)
    file.write(line(6))
    file.close()
    expect(await readFile(path, 'utf8')).toBe(line(6))
  })
})
