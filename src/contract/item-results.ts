import type { ItemResult } from '../epochs/requests.js'
import { EphemeraError } from '../util/errors.js'

/** Runs one chunk's step; a refusal (EphemeraError) becomes that chunk's result, anything else throws. */
export function attempt<T> (chunk: number, step: () => T): ItemResult<T> {
  try {
    return { chunk, ok: true, value: step() }
  } catch (err) {
    if (!(err instanceof EphemeraError)) throw err
    return { chunk, ok: false, code: err.code, message: err.message }
  }
}

/** The single result of a one-chunk request, or its refusal thrown. */
export function one<T> (results: Array<ItemResult<T>>): T {
  const r = results[0] as ItemResult<T>
  if (!r.ok) throw new EphemeraError(r.code, r.message)
  return r.value
}
