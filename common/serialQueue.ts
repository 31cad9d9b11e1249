// Tasks that must not overlap run through a serial queue: one at a time, in the order they were given.
// The rule, for every queue of ours: a task that fails does not stop the next. Its failure goes to its own
// caller (the promise `run` returns) and nowhere else; the queue itself never rejects.

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => {});
    return result;
  }

  /** Resolves when every task given so far has finished, failed ones included. */
  async idle(): Promise<void> {
    await this.tail;
  }
}

/** One serial queue per key (a partition, say): tasks of one key never overlap, other keys' tasks may. */
export class KeyedSerialQueue<K> {
  private readonly tails = new Map<K, Promise<unknown>>();

  run<T>(key: K, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.catch(() => {});
    this.tails.set(key, tail);
    // A key with nothing left to run is forgotten, so the map holds only keys with work in hand.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
