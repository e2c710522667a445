/**
 * The authenticated header inside every sealed frame: who (connection id), which (sequence number)
 * and when (sender wall clock). The opener uses it to refuse replays; see replay-guard.ts.
 */
export interface FrameHeader {
  /** 8 random bytes per sealer, as 16 hex chars so it can key a Map. */
  readonly connectionId: string
  readonly seq: number
  readonly sentAtMs: number
}

export const CONNECTION_ID_BYTES = 8
export const HEADER_BYTES = CONNECTION_ID_BYTES + 8 + 8
const TWO_POW_32 = 2 ** 32

export function writeHeader(target: Buffer, connectionId: Buffer, seq: number, sentAtMs: number): void {
  connectionId.copy(target, 0)
  writeUint64(target, CONNECTION_ID_BYTES, seq)
  writeUint64(target, CONNECTION_ID_BYTES + 8, sentAtMs)
}

/** Read the header; returns undefined when the plaintext is too short to hold one. */
export function readHeader(plaintext: Buffer): FrameHeader | undefined {
  if (plaintext.length < HEADER_BYTES) return undefined
  return {
    connectionId: plaintext.toString('hex', 0, CONNECTION_ID_BYTES),
    seq: readUint64(plaintext, CONNECTION_ID_BYTES),
    sentAtMs: readUint64(plaintext, CONNECTION_ID_BYTES + 8),
  }
}

// u64 as two u32 halves: sequence numbers and epoch milliseconds stay far below 2^53, and this avoids BigInt per frame.
function writeUint64(target: Buffer, offset: number, value: number): void {
  target.writeUInt32BE(Math.floor(value / TWO_POW_32), offset)
  target.writeUInt32BE(value >>> 0, offset + 4)
}

function readUint64(source: Buffer, offset: number): number {
  return source.readUInt32BE(offset) * TWO_POW_32 + source.readUInt32BE(offset + 4)
}
