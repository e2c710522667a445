/** A FIFO of frames bounded in bytes; a head index instead of `shift()` keeps dequeuing O(1). */
export class SendQueue {
  #frames: Uint8Array[] = []
  #head = 0
  #bytes = 0

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.#bytes
  }

  get length(): number {
    return this.#frames.length - this.#head
  }

  /** False when the frame does not fit; the queue is then unchanged. */
  offer(frame: Uint8Array): boolean {
    if (this.#bytes + frame.length > this.maxBytes) return false
    this.#frames.push(frame)
    this.#bytes += frame.length
    return true
  }

  /**
   * Remove frames from the front: at least one, and otherwise no more than `maxBytes` counting
   * `perFrameBytes` of framing for each.
   */
  takeBatch(maxBytes: number, perFrameBytes = 0): Uint8Array[] {
    const batch: Uint8Array[] = []
    let taken = 0
    let budget = 0
    while (this.#head < this.#frames.length) {
      const next = this.#frames[this.#head]!
      if (batch.length > 0 && budget + perFrameBytes + next.length > maxBytes) break
      this.#head++
      batch.push(next)
      taken += next.length
      budget += perFrameBytes + next.length
    }
    this.#bytes -= taken
    if (this.#head === this.#frames.length) {
      this.#frames = []
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head)
      this.#head = 0
    }
    return batch
  }

  clear(): void {
    this.#frames = []
    this.#head = 0
    this.#bytes = 0
  }
}
