// A block of free listen ports for a bench row, BELOW the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, 32768–60999 by default): a cluster's outgoing connections take
// ephemeral ports and could steal a listen port between the check and the start. The same rule
// as test/helpers/ports.ts (the tests' helper; scripts cannot import TypeScript).
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

export function ephemeralLow () {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768
  } catch {
    return 32_768
  }
}

async function free (port) {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
  })
}

/** The first port of `count` consecutive free ones, from 10000 up to the ephemeral range. */
export async function freePortBlock (count) {
  const low = ephemeralLow()
  const min = 10_000
  const max = Math.max(min + 1_000, low) - count
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = min + Math.floor(Math.random() * (max - min))
    let ok = true
    for (let p = base; p < base + count && ok; p++) ok = await free(p)
    if (ok) return base
  }
  throw new Error(`no block of ${count} free ports found below ${low}`)
}
