/** This build's version (package.json's; a test keeps them equal) and the runtime it runs on. */
export const VERSION = '0.1.0'

export function buildInfo (): { version: string, node: string, platform: string } {
  return { version: VERSION, node: process.version, platform: `${process.platform}-${process.arch}` }
}
