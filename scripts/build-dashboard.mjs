#!/usr/bin/env node
// The dashboard's browser bundle (README "Dashboard"), part of `npm run build`: typechecks
// src/dashboard/browser (DOM types, no Node types: what it imports must run in a browser), bundles
// its entry with esbuild into dist/dashboard/app.js (everything inlined: the page loads nothing from
// elsewhere) and copies the page and its style from src/dashboard/static.
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const source = join(root, 'src', 'dashboard')
const out = join(root, 'dist', 'dashboard')

const check = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(source, 'browser', 'tsconfig.json')], { stdio: 'inherit' })
if (check.status !== 0) process.exit(check.status ?? 1)

mkdirSync(out, { recursive: true })
const result = await build({
  entryPoints: [join(source, 'browser', 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': '"production"' },
  metafile: true,
  logLevel: 'warning'
})
// nothing left to load at run time: every input is a local file
const remote = Object.keys(result.metafile.inputs).filter((p) => /^[a-z]+:/i.test(p))
if (remote.length > 0) {
  console.error(`build-dashboard: the bundle would load ${remote.join(', ')}`)
  process.exit(1)
}
for (const file of ['index.html', 'style.css']) copyFileSync(join(source, 'static', file), join(out, file))
const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs).find((p) => p.endsWith('app.js'))].bytes
console.log(`dashboard: dist/dashboard (app.js ${Math.round(bytes / 1024)} KiB, index.html, style.css)`)
