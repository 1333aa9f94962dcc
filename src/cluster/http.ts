/**
 * Polling the cluster's processes: JSON from a URL, or undefined when the process does not answer
 * (yet) or answers with an error. A starting or dead process is a normal state here, not a failure.
 */
export async function tryGetJson<T> (url: string, timeoutMs = 1_000): Promise<T | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    return res.ok ? await res.json() as T : undefined
  } catch {
    return undefined
  }
}
