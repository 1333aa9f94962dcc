import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { contractConfigSchema, loadContractConfig, loadNodeConfig, nodeConfigSchema } from '../../../src/config/index.js'
import { parseToml } from '../../../src/config/toml.js'

/** The example config and the README name every config key, and the example loads as is. */

function keyPaths (schema: z.ZodType, prefix = ''): string[] {
  let s: z.ZodType = schema
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodPipe) {
    s = (s instanceof z.ZodPipe ? s.in : s.unwrap()) as z.ZodType
  }
  if (!(s instanceof z.ZodObject)) return [prefix]
  return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, child]) => keyPaths(child, prefix === '' ? key : `${prefix}.${key}`))
}

const root = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url))

async function expectEveryKeySet (file: string, keys: string[]): Promise<void> {
  const values = parseToml(await readFile(file, 'utf8'), file)
  for (const key of keys) {
    const value = key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], values)
    expect(value, `example sets ${key}`).toBeDefined()
  }
}

describe('configuration documentation', () => {
  const keys = keyPaths(nodeConfigSchema)

  it('has a non-trivial list of keys', () => {
    expect(keys).toContain('http.port')
    expect(keys).toContain('broadcast.block_interval_ms')
    expect(keys.length).toBeGreaterThan(20)
  })

  it('configs/node.example.toml sets every key and loads without error', async () => {
    const file = root('configs/node.example.toml')
    await expectEveryKeySet(file, keys)
    const config = await loadNodeConfig(file, { env: {} })
    expect(config.name).toBe('node1')
  })

  it('README documents every key', async () => {
    const readme = await readFile(root('README.md'), 'utf8')
    for (const key of keys) expect(readme, `README mentions \`${key}\``).toContain(`\`${key}\``)
  })
})

describe('coordinator configuration documentation', () => {
  const keys = keyPaths(contractConfigSchema)

  it('configs/coordinator.example.toml sets every key and loads without error', async () => {
    const file = root('configs/coordinator.example.toml')
    await expectEveryKeySet(file, keys)
    const config = await loadContractConfig(file, { env: {} })
    expect(config.environment).toBe('development')
  })

  it('README documents every key', async () => {
    const readme = await readFile(root('README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('**Coordinator configuration.**'))
    for (const key of keys) {
      const documented = section.includes(`\`${key}\``) || (key.startsWith('http.') && section.includes('`http.host` / `http.port`'))
      expect(documented, `README's coordinator section mentions \`${key}\``).toBe(true)
    }
  })
})
