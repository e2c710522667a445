import { FrameTooLargeError, MalformedMessageError } from '../../errors.js'

export const LENGTH_PREFIX_BYTES = 4

/**
 * Splits a byte stream into u32-length-prefixed frames. The prefix is checked against the limit as soon
 * as it arrives, before any of the body is buffered; chunks are joined once per frame, never per chunk.
 */
export class FrameReader {
  readonly #maxFrameBytes: number
  /** Limit of the first frame: before a peer has authenticated it gets a few KiB, not maxFrameBytes. */
  readonly #firstFrameMaxBytes: number
  #frames = 0
  #chunks: Buffer[] = []
  #buffered = 0
  #bodyBytes = -1

  constructor(maxFrameBytes: number, firstFrameMaxBytes = maxFrameBytes) {
    this.#maxFrameBytes = maxFrameBytes
    this.#firstFrameMaxBytes = Math.min(firstFrameMaxBytes, maxFrameBytes)
  }

  /** True while a frame is partly received (at end of stream: the sender was cut off mid-frame). */
  get midFrame(): boolean {
    return this.#buffered > 0 || this.#bodyBytes >= 0
  }

  /** Feed one chunk; returns the frames it completed. Throws `FrameTooLargeError` on an oversized prefix. */
  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    const frames: Buffer[] = []
    for (;;) {
      if (this.#bodyBytes < 0) {
        if (this.#buffered < LENGTH_PREFIX_BYTES) break
        const length = this.#take(LENGTH_PREFIX_BYTES).readUInt32BE(0)
        const limit = this.#frames === 0 ? this.#firstFrameMaxBytes : this.#maxFrameBytes
        if (length > limit) {
          throw new FrameTooLargeError(`frame length prefix ${length} exceeds the limit ${limit}${this.#frames === 0 ? ' of a first frame' : ''}`)
        }
        this.#bodyBytes = length
        this.#frames++
      }
      if (this.#buffered < this.#bodyBytes) break
      frames.push(this.#take(this.#bodyBytes))
      this.#bodyBytes = -1
    }
    return frames
  }

  #take(n: number): Buffer {
    this.#buffered -= n
    const first = this.#chunks[0]
    if (first && first.length >= n) {
      if (first.length === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.#chunks[0]!
      const used = Math.min(chunk.length, n - filled)
      chunk.copy(out, filled, 0, used)
      filled += used
      if (used === chunk.length) this.#chunks.shift()
      else this.#chunks[0] = chunk.subarray(used)
    }
    return out
  }
}

/**
 * Frames each preceded by its u32 big-endian length, in one buffer. Used for the plaintext of a record
 * (several frames sealed together) and for the socket stream (records).
 */
export function encodeFrames(frames: readonly Uint8Array[]): Buffer {
  let total = 0
  for (const frame of frames) total += LENGTH_PREFIX_BYTES + frame.length
  const out = Buffer.allocUnsafe(total)
  let offset = 0
  for (const frame of frames) {
    out.writeUInt32BE(frame.length, offset)
    out.set(frame, offset + LENGTH_PREFIX_BYTES)
    offset += LENGTH_PREFIX_BYTES + frame.length
  }
  return out
}

/** The frames inside an opened record; throws `MalformedMessageError` if the lengths do not add up. */
export function splitRecord(record: Uint8Array): Uint8Array[] {
  const view = new DataView(record.buffer, record.byteOffset, record.length)
  const frames: Uint8Array[] = []
  let offset = 0
  while (offset < record.length) {
    if (record.length - offset < LENGTH_PREFIX_BYTES) throw new MalformedMessageError('record ends inside a length prefix')
    const length = view.getUint32(offset)
    offset += LENGTH_PREFIX_BYTES
    if (record.length - offset < length) throw new MalformedMessageError('record ends inside a frame')
    frames.push(record.subarray(offset, offset + length))
    offset += length
  }
  return frames
}
