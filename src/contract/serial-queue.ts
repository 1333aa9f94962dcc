/**
 * The coordinator's one serial queue: tasks (submissions, locks, contributions, verifications,
 * update) run one at a time, in call order. The queue moves on once a task's transition is made
 * and its writes are issued; the task's answer waits until they are on disk. The store applies
 * writes in call order, so that is once the newest write issued so far is; writes issued back to
 * back share an fsync (the database's group commit), so a burst of members' requests does not
 * wait one fsync each.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve()
  #written: Promise<void> = Promise.resolve()

  /** Runs `task` after every earlier one; resolves with its result once its writes are done. */
  async run<T> (task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(async () => ({ result: await task(), written: this.#written }))
    this.#tail = run.then(() => {}, () => {})
    const { result, written } = await run
    await written
    return result
  }

  /**
   * A write the running task issued (its answer waits for it; a failure reaches that answer), or
   * one a request issued before its task was queued (its nonce): the answer of every task that
   * finishes after this call waits for it.
   */
  issued (write: Promise<void>): void {
    write.catch(() => {})
    this.#written = write
  }

  /** Resolves once every write issued so far is done (or failed). */
  async written (): Promise<void> {
    await this.#written
  }

  /** Waits for the queued tasks and their writes. */
  async drain (): Promise<void> {
    await this.#tail
    await this.#written.catch(() => {})
  }
}
