/**
 * The two kinds of sealed record on a connection (all integers big-endian):
 *   first:  0x01 | connection id (16) | sealed(seq 0, sent-at ms u64 | payload) | tag (16)
 *   next:   0x02 | seq u64            | sealed(seq, payload)                     | tag (16)
 * The connection id salts the connection's key; the sequence number is the nonce, and is sent in the clear
 * only so a replayed or reordered record is named as such before it fails to authenticate.
 */
export const FIRST_RECORD = 0x01
export const NEXT_RECORD = 0x02
export const CONNECTION_ID_BYTES = 16
export const FIRST_PREFIX_BYTES = 1 + CONNECTION_ID_BYTES
export const NEXT_PREFIX_BYTES = 1 + 8
export const SENT_AT_BYTES = 8

const TWO_POW_32 = 2 ** 32

// u64 as two u32 halves: sequence numbers and epoch milliseconds stay far below 2^53, and this avoids BigInt per record.
export function writeUint64(target: Buffer, offset: number, value: number): void {
  target.writeUInt32BE(Math.floor(value / TWO_POW_32), offset)
  target.writeUInt32BE(value >>> 0, offset + 4)
}

export function readUint64(source: Buffer, offset: number): number {
  return source.readUInt32BE(offset) * TWO_POW_32 + source.readUInt32BE(offset + 4)
}
