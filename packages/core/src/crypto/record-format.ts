/**
 * The two kinds of sealed record on a connection (all integers big-endian):
 *   first:  0x03 | sender nonce (16) | u8 n | sender address (n, utf8) | sealed(seq 0, payload) | tag (16)
 *   next:   0x02 | seq u64                                              | sealed(seq, payload)    | tag (16)
 * The connection's key comes from the cluster key, both nonces (the receiver's from its greeting) and both
 * addresses; the sender's nonce and address travel in the clear in the first record so the receiver can derive
 * it (and name the sender when it fails). The sequence number is the nonce, and is sent in the clear only so a
 * replayed or reordered record is named as such before it fails to authenticate.
 * Protocol 2's first record (kind 0x01: a connection id and a timestamp instead of the receiver's nonce) could be
 * replayed to another node within its freshness window; it is recognised only to refuse it by name.
 */
export const LEGACY_FIRST_RECORD = 0x01
export const NEXT_RECORD = 0x02
export const FIRST_RECORD = 0x03
export const NONCE_BYTES_ON_WIRE = 16
export const MAX_ADDRESS_BYTES = 255
export const NEXT_PREFIX_BYTES = 1 + 8

const TWO_POW_32 = 2 ** 32

// u64 as two u32 halves: sequence numbers stay far below 2^53, and this avoids BigInt per record.
export function writeUint64(target: Buffer, offset: number, value: number): void {
  target.writeUInt32BE(Math.floor(value / TWO_POW_32), offset)
  target.writeUInt32BE(value >>> 0, offset + 4)
}

export function readUint64(source: Buffer, offset: number): number {
  return source.readUInt32BE(offset) * TWO_POW_32 + source.readUInt32BE(offset + 4)
}
