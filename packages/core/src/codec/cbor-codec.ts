import { Decoder, Encoder, addExtension } from 'cbor-x'
import { MalformedMessageError } from '../errors.js'
import type { Codec } from './codec.js'

/**
 * cbor-x in the configuration that is safe for peer data (no records, no structured clones, tags 27/28/29 refused: its defaults trust the data):
 * - standard CBOR maps, no records (`useRecords: false`);
 * - tags 27 (RegExp/Error: ReDoS, odd prototypes) and 28/29 (value sharing: cycles) refuse to decode;
 * - every decoded value is checked to be plain data (objects, arrays, strings, numbers, booleans, null,
 *   byte strings) at a bounded depth, so Tag objects, Maps, Sets and typed arrays never reach the app;
 * - the frame size is capped by the transport before we are called.
 * The decoder keeps no state between calls (no shared structures), so one instance is safe for all peers.
 */
const refuse = (tag: number) => () => {
  throw new MalformedMessageError(`CBOR tag ${tag} is not accepted from peers`)
}
for (const tag of [27, 28, 29]) {
  // addExtension is process-global in cbor-x: registering the refusal once protects every decoder.
  addExtension({ Class: class Refused {} as never, tag, encode: refuse(tag), decode: refuse(tag) })
}

export const MAX_DEPTH = 64

export interface CborCodecInit {
  /** Deepest nesting accepted. @default 64 */
  maxDepth?: number
}

export function cborCodec(init: CborCodecInit = {}): Codec {
  const maxDepth = init.maxDepth ?? MAX_DEPTH
  const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true })
  const decoder = new Decoder({ useRecords: false, mapsAsObjects: true })
  return {
    encode(value) {
      return encoder.encode(value)
    },
    decode(bytes) {
      let value: unknown
      try {
        value = decoder.decode(bytes)
      } catch (error) {
        if (error instanceof MalformedMessageError) throw error
        throw new MalformedMessageError('frame is not valid CBOR', { cause: error })
      }
      assertPlainData(value, maxDepth)
      return value
    },
  }
}

function assertPlainData(value: unknown, maxDepth: number): void {
  // Two parallel stacks instead of [value, depth] pairs: a state-transfer chunk holds ~10^4 values, and a
  // pair per value was a good part of the decode's garbage.
  const values: unknown[] = [value]
  const depths: number[] = [0]
  while (values.length > 0) {
    const v = values.pop()
    const depth = depths.pop()!
    if (v === null || v === undefined) continue
    const t = typeof v
    if (t === 'string' || t === 'number' || t === 'boolean') continue
    if (t !== 'object') throw new MalformedMessageError(`a ${t} is not plain data`)
    if (depth >= maxDepth) throw new MalformedMessageError(`nesting deeper than ${maxDepth}`)
    if (v instanceof Uint8Array) continue
    if (Array.isArray(v)) {
      for (const item of v) {
        // Scalars need no visit: skipping them keeps the stacks short.
        const type = typeof item
        if (type === 'string' || type === 'number' || type === 'boolean' || item === null) continue
        values.push(item)
        depths.push(depth + 1)
      }
      continue
    }
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) {
      throw new MalformedMessageError(`a ${(v as object).constructor?.name ?? 'non-plain object'} is not plain data`)
    }
    for (const key of Object.keys(v as object)) {
      if (key === '__proto__' || key === '__proto_' || key === 'constructor' || key === 'prototype') {
        throw new MalformedMessageError(`key ${JSON.stringify(key)} is not accepted from peers`)
      }
      values.push((v as Record<string, unknown>)[key])
      depths.push(depth + 1)
    }
  }
}
