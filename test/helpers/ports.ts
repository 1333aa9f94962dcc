import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/**
 * A random block of consecutive free ports on 127.0.0.1, chosen BELOW the kernel's ephemeral
 * range (net.ipv4.ip_local_port_range, 32768–60999 by default): a cluster's many outgoing
 * connections (and other tests') take ephemeral ports, which could steal a listen port between
 * the check and the start.
 */
export async function freePortBlock (count: number): Promise<number> {
  let low = 32_768
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low
  } catch {}
  const min = 10_000
  const max = Math.max(min + 1_000, low) - count
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = min + Math.floor(Math.random() * (max - min))
    let ok = true
    for (let p = base; p < base + count && ok; p++) ok = await portFree(p)
    if (ok) return base
  }
  throw new Error(`no block of ${count} free ports found below ${low}`)
}

async function portFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
  })
}
