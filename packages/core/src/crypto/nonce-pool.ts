import { randomFillSync } from 'node:crypto'

const NONCES_PER_REFILL = 1024

/**
 * Random nonces drawn from one pooled buffer: a single `randomFillSync` per 1,024 frames instead of
 * one syscall-backed call per frame. 96 random bits per nonce keep collisions negligible for far
 * more frames than one key will see between restarts.
 */
export class NoncePool {
  readonly #nonceBytes: number
  readonly #pool: Buffer
  #offset: number

  constructor(nonceBytes: number) {
    this.#nonceBytes = nonceBytes
    this.#pool = Buffer.allocUnsafe(nonceBytes * NONCES_PER_REFILL)
    this.#offset = this.#pool.length
  }

  /** Copy a fresh nonce into `target` at `offset`; each pooled nonce is handed out once. */
  fill(target: Uint8Array, offset: number): void {
    if (this.#offset === this.#pool.length) {
      randomFillSync(this.#pool)
      this.#offset = 0
    }
    this.#pool.copy(target, offset, this.#offset, this.#offset + this.#nonceBytes)
    this.#offset += this.#nonceBytes
  }
}
