import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readEnvelope, writeEnvelope } from '../src/channel/envelope-bytes.js'
import { type Envelope, Kind, PROTOCOL_VERSION, parseEnvelope } from '../src/channel/envelope.js'
import { cborCodec } from '../src/codec/cbor-codec.js'

const codec = cborCodec()
const kind = fc.constantFrom(Kind.Message, Kind.Ack, Kind.Request, Kind.Response, Kind.Failure)
// Ids around every head size, and beyond 2^32 (where cbor-x writes a float64).
const id = fc.oneof(
  fc.constantFrom(0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
  fc.nat(),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
)
// Bodies as the channel has them: the codec's output (a Buffer), an error text, or none.
const body = fc.oneof(
  fc.uint8Array({ maxLength: 2_000 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom(0, 23, 24, 255, 256, 65_535, 65_536).map((n) => Buffer.alloc(n, 7)),
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc.constant(null),
)

describe('envelope bytes written and read by hand', () => {
  it('are the bytes cbor-x writes, and read back as the general decoder reads them', () => {
    fc.assert(
      fc.property(kind, id, body, (k, i, b) => {
        const envelope: Envelope = [PROTOCOL_VERSION, k, i, b]
        const written = writeEnvelope(k, i, b)
        expect(Buffer.from(written).equals(Buffer.from(codec.encode(envelope)))).toBe(true)
        const general = parseEnvelope(codec.decode(written))
        expect(readEnvelope(written)).toEqual(general)
      }),
      { numRuns: 300 },
    )
  })

  it('leave anything but the canonical shape to the general decoder', () => {
    const body = new Uint8Array([1, 2, 3])
    const cases: Array<[string, Uint8Array]> = [
      ['a body tagged 64 (a Uint8Array, not a Buffer)', codec.encode([PROTOCOL_VERSION, Kind.Message, 5, body])],
      ['another protocol version', codec.encode([2, Kind.Message, 5, Buffer.from(body)])],
      ['five elements', codec.encode([PROTOCOL_VERSION, Kind.Message, 5, Buffer.from(body), 1])],
      ['an unknown kind', Buffer.from([0x84, PROTOCOL_VERSION, 9, 0x05, 0xf6])],
      ['an id written longer than it needs', Buffer.from([0x84, PROTOCOL_VERSION, 0, 0x18, 0x05, 0xf6])],
      ['a negative id', Buffer.from([0x84, PROTOCOL_VERSION, 0, 0x20, 0xf6])],
      ['a float id that is not an integer', codec.encode([PROTOCOL_VERSION, Kind.Message, 2 ** 32 + 0.5, null])],
      ['a byte string longer than the frame', Buffer.from([0x84, PROTOCOL_VERSION, 0, 0x05, 0x45, 1, 2])],
      ['bytes after the envelope', Buffer.from([0x84, PROTOCOL_VERSION, 0, 0x05, 0xf6, 0x00])],
      ['a map for a body', Buffer.from([0x84, PROTOCOL_VERSION, 0, 0x05, 0xa0])],
      ['a truncated frame', Buffer.from([0x84, PROTOCOL_VERSION, 0])],
    ]
    for (const [what, frame] of cases) expect(readEnvelope(frame), what).toBeUndefined()
    // The first is still a valid envelope: the general decoder takes it.
    expect(parseEnvelope(codec.decode(cases[0]![1]))[3]).toEqual(body)
  })
})
