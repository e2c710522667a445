/**
 * Turns values into bytes and back. One codec serves the wire (messages) and session attribute values,
 * so "did this attribute change" is a byte comparison of two encodings.
 */
export interface Codec {
  encode(value: unknown): Uint8Array
  /** Throws `MalformedMessageError` on bytes that are not a valid, safe encoding. */
  decode(bytes: Uint8Array): unknown
}
