/**
 * Runs tasks one at a time, in the order they were queued: a task starts after every task queued
 * before it has settled. A failing task rejects its own caller only.
 */
export class SerialQueue {
  #tail: Promise<void> = Promise.resolve()

  async run<T> (task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task)
    this.#tail = run.then(() => {}, () => {})
    return await run
  }

  /** Resolves once everything queued so far has settled. */
  async drained (): Promise<void> {
    await this.#tail
  }
}
