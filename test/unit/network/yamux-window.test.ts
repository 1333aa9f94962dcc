import { describe, expect, it } from 'vitest'
import { defaultLogger } from '@libp2p/logger'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'
import { Uint8ArrayList } from 'uint8arraylist'

// yamux frame types and the default window (@libp2p/yamux's frame.js and constants.js)
const DATA = 0
const WINDOW_UPDATE = 1
const WINDOW = 256 * 1024

interface SentHeader { type: number, flag: number, length: number }

/** An established stream whose frames are captured instead of sent. */
function stream (): { s: YamuxStream, sent: SentHeader[] } {
  const sent: SentHeader[] = []
  const s = new YamuxStream({
    id: '1',
    streamId: 1,
    state: StreamState.Established,
    direction: 'inbound',
    sendFrame: (header: SentHeader) => { sent.push(header); return true },
    log: defaultLogger().forComponent('test:yamux'),
    getRTT: () => -1
  } as unknown as ConstructorParameters<typeof YamuxStream>[0])
  return { s, sent }
}

const data = (bytes: number): Parameters<YamuxStream['handleData']>[0] =>
  ({ header: { type: DATA, flag: 0, streamID: 1, length: bytes }, data: new Uint8ArrayList(new Uint8Array(bytes)) }) as unknown as Parameters<YamuxStream['handleData']>[0]

// package.json postinstall applies patches/@libp2p+yamux+*.patch (patch-package)
describe('yamux receive window (patched: updates once half the window is consumed)', () => {
  it('sends no window update for small frames until half the window is consumed, then one for all of it', () => {
    const { s, sent } = stream()
    const frames = Math.floor(WINDOW / 2 / 1000)
    for (let i = 0; i < frames; i++) s.handleData(data(1000))
    expect(sent.filter((f) => f.type === WINDOW_UPDATE)).toHaveLength(0)
    s.handleData(data(1000))
    const updates = sent.filter((f) => f.type === WINDOW_UPDATE)
    expect(updates).toHaveLength(1)
    expect(updates[0]?.length).toBe((frames + 1) * 1000)
  })

  it('a frame that empties the window is answered at once (the sender never stalls)', () => {
    const { s, sent } = stream()
    s.handleData(data(WINDOW))
    expect(sent.filter((f) => f.type === WINDOW_UPDATE).map((f) => f.length)).toEqual([WINDOW])
  })
})
