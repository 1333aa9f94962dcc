#!/usr/bin/env node
// Thin entry point: the polyfills must be evaluated before anything imports libp2p.
import '../src/polyfills.js'
import { main } from '../src/cli/index.js'

process.exitCode = await main(process.argv)
