#!/usr/bin/env node
// `npm start`'s build step: runs the build (TypeScript, the CLI's bundle, then the dashboard's
// bundle) only when a source is newer than the last build (bin/, src/, tsconfig.json, package.json,
// package-lock.json, scripts/bundle-cli.mjs, scripts/build-dashboard.mjs), or when dist/ is missing.
// The stamp dist/.build-stamp is written after a successful build.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const stamp = join(root, 'dist', '.build-stamp')

function newest (path) {
  if (!existsSync(path)) return 0
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  let max = stat.mtimeMs
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)))
  return max
}

const sources = Math.max(...['bin', 'src', 'tsconfig.json', 'package.json', 'package-lock.json', join('scripts', 'bundle-cli.mjs'), join('scripts', 'build-dashboard.mjs')].map((p) => newest(join(root, p))))
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0
if (built >= sources && existsSync(join(root, 'dist', 'bin', 'ephemera.js'))) {
  console.log('build is up to date (no source changed since the last build)')
  process.exit(0)
}
console.log('building (sources changed since the last build)')
const result = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' })
if (result.status !== 0) process.exit(result.status ?? 1)
// the CLI's bundle (dist/bin/ephemera.js), as `npm run build` makes it
const cli = spawnSync(process.execPath, [join(root, 'scripts', 'bundle-cli.mjs')], { stdio: 'inherit' })
if (cli.status !== 0) process.exit(cli.status ?? 1)
// the dashboard's browser bundle (src/dashboard), as `npm run build` does
const dashboard = join(root, 'scripts', 'build-dashboard.mjs')
if (existsSync(dashboard)) {
  const bundled = spawnSync(process.execPath, [dashboard], { stdio: 'inherit' })
  if (bundled.status !== 0) process.exit(bundled.status ?? 1)
}
writeFileSync(stamp, `${new Date().toISOString()}\n`)
