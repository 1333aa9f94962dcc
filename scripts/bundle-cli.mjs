#!/usr/bin/env node
// The CLI every process runs (README "Architecture", "Performance"), part of `npm run build`:
// bundles the TypeScript output's entry dist/bin/main.js and what it imports, packages included,
// into dist/bin/ephemera.js (and chunks in dist/bin/chunks/). A process then parses a few scripts
// instead of ~1,500 modules: measured at 4 nodes, a node's start ~1.0 s of CPU instead of ~2 s and
// ~6 MiB less RSS per process (README "Start-up and memory"). Whitespace and syntax are minified,
// names are kept (stack traces stay readable); the .map files beside the scripts map them back to
// the sources (node --enable-source-maps).
// Left outside the bundle, loaded from node_modules at run time: packages that load files of
// their own by path (classic-level's native addon; @fastify/swagger-ui's static assets) and the
// logger (pino loads pino-pretty and its workers by name). Left outside too, as a process never
// runs them: fastify's schema compilers (every server passes its own describe-only compilers,
// src/api/openapi-docs.ts) and light-my-request (inject(): tests, and the API docs, loaded on their
// first request); in the bundle they were ~0.4 MB of source text in every process's heap.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const entry = join(root, 'dist', 'bin', 'main.js')
const outdir = join(root, 'dist', 'bin')
rmSync(join(outdir, 'chunks'), { recursive: true, force: true })

const result = await build({
  entryPoints: { ephemera: entry },
  outdir,
  // a module the CLI imports only when a command needs it (the node's composition root and
  // libp2p, the coordinator's service) becomes a chunk loaded then: a coordinator never loads
  // libp2p, a node never loads the coordinator, `ephemera verify` loads neither
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: ['node20'],
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  sourcemap: 'linked',
  external: ['classic-level', '@fastify/swagger-ui', 'pino', 'pino-pretty', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler', 'light-my-request'],
  // packages written as CommonJS call require(): give the ES module bundle one
  banner: { js: "import { createRequire as __ephemeraCreateRequire } from 'node:module'; const require = __ephemeraCreateRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning'
})
const outputs = Object.entries(result.metafile.outputs).filter(([path]) => path.endsWith('.js'))
const kib = (bytes) => `${Math.round(bytes / 1024)} KiB`
console.log(`cli: dist/bin/ephemera.js (${Object.keys(result.metafile.inputs).length} modules; ${outputs.map(([path, out]) => `${path.split('/').pop()} ${kib(out.bytes)}`).join(', ')})`)
