import { describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { aesGcmProtector, plaintextProtector } from '../src/crypto/index.js'
import { InvalidParametersError } from '../src/errors.js'

const secret = 'correct horse battery staple'
const clusterName = 'shop'
const bytes = (text: string) => new TextEncoder().encode(text)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

function setup(overrides: { clusterName?: string; secret?: string; replayWindowMs?: number } = {}) {
  const clock = new ManualClock()
  const protector = aesGcmProtector({ secret, clusterName, clock, ...overrides })
  return { clock, protector }
}

describe('aesGcmProtector', () => {
  it('round-trips frames in sequence, including an empty one', () => {
    const { protector } = setup()
    const sealer = protector.outbound()
    const opener = protector.inbound()
    for (const message of ['hello', '', 'x'.repeat(100_000)]) {
      const sealed = sealer.seal(bytes(message))
      expect(Buffer.from(sealed).includes(Buffer.from('hello'))).toBe(false)
      expect(text(opener.open(sealed))).toBe(message)
    }
  })

  it('never repeats a nonce under a key: each connection has its own key and numbers its records', () => {
    const { protector } = setup()
    const sealer = protector.outbound()
    const sealed = new Set<string>()
    for (let i = 0; i < 3000; i++) sealed.add(Buffer.from(sealer.seal(bytes('same'))).toString('hex', 9))
    expect(sealed.size).toBe(3000)
    // Two connections sealing the same first record: different ids, so different keys and ciphertexts.
    const [a, b] = [protector.outbound().seal(bytes('same')), protector.outbound().seal(bytes('same'))]
    expect(Buffer.from(a).subarray(1, 17).equals(Buffer.from(b).subarray(1, 17))).toBe(false)
    expect(Buffer.from(a).subarray(25).equals(Buffer.from(b).subarray(25))).toBe(false)
  })

  it('refuses a frame sealed under another secret', () => {
    const sealed = setup({ secret: 'another secret' }).protector.outbound().seal(bytes('hi'))
    expect(() => setup().protector.inbound().open(sealed)).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
  })

  it('refuses a frame sealed for another cluster name under the same secret', () => {
    const sealed = setup({ clusterName: 'other' }).protector.outbound().seal(bytes('hi'))
    expect(() => setup().protector.inbound().open(sealed)).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
  })

  it('refuses a frame with any single byte flipped', () => {
    const { protector } = setup()
    const sealed = protector.outbound().seal(bytes('tamper with me'))
    for (let i = 0; i < sealed.length; i++) {
      const tampered = Uint8Array.from(sealed)
      tampered[i] = (tampered[i] ?? 0) ^ 0x01
      expect(() => protector.inbound().open(tampered), `byte ${i}`).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
    }
  })

  it('refuses truncated frames of every length', () => {
    const { protector } = setup()
    const sealed = protector.outbound().seal(bytes('truncate me'))
    for (let n = 0; n < sealed.length; n++) {
      expect(() => protector.inbound().open(sealed.subarray(0, n)), `length ${n}`).toThrow(
        expect.objectContaining({ name: 'DecryptionError' }),
      )
    }
  })

  it('refuses a replayed frame within a connection', () => {
    const { protector } = setup()
    const sealer = protector.outbound()
    const opener = protector.inbound()
    const first = sealer.seal(bytes('a'))
    const second = sealer.seal(bytes('b'))
    opener.open(first)
    opener.open(second)
    expect(() => opener.open(second)).toThrow(expect.objectContaining({ name: 'ReplayError' }))
  })

  it('refuses out-of-order and skipped sequence numbers', () => {
    const { protector } = setup()
    const sealer = protector.outbound()
    const frames = [0, 1, 2].map((i) => sealer.seal(bytes(String(i))))
    const opener = protector.inbound()
    opener.open(frames[0]!)
    expect(() => opener.open(frames[2]!)).toThrow(expect.objectContaining({ name: 'ReplayError' }))
    // A connection that starts mid-stream (a partial recording) has no first record to name its key.
    expect(() => protector.inbound().open(frames[1]!)).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
  })

  it('refuses frames from a second connection mixed into one', () => {
    const { protector } = setup()
    const a = protector.outbound()
    const b = protector.outbound()
    const opener = protector.inbound()
    opener.open(a.seal(bytes('a0')))
    b.seal(bytes('b0'))
    // b's records are sealed under b's key: in a's stream they do not authenticate.
    expect(() => opener.open(b.seal(bytes('b1')))).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
    // Another connection's first record in the middle of this one.
    const c = protector.inbound()
    c.open(protector.outbound().seal(bytes('c0')))
    expect(() => c.open(protector.outbound().seal(bytes('d0')))).toThrow(expect.objectContaining({ name: 'ReplayError' }))
  })

  it('refuses a recorded connection replayed on a new connection (reused connection id)', () => {
    const { protector } = setup()
    const sealer = protector.outbound()
    const recording = [sealer.seal(bytes('hello')), sealer.seal(bytes('transfer 100'))]
    const original = protector.inbound()
    for (const frame of recording) original.open(frame)
    expect(() => protector.inbound().open(recording[0]!)).toThrow(expect.objectContaining({ name: 'ReplayError' }))
  })

  it('refuses a first frame older than the replay window', async () => {
    const { clock, protector } = setup({ replayWindowMs: 1000 })
    const stale = protector.outbound().seal(bytes('old'))
    await clock.advance(1001)
    expect(() => protector.inbound().open(stale)).toThrow(expect.objectContaining({ name: 'ReplayError' }))
    const justInTime = protector.outbound().seal(bytes('now'))
    expect(text(protector.inbound().open(justInTime))).toBe('now')
  })

  it('refuses a first frame from a clock too far in the future', async () => {
    const sender = setup({ replayWindowMs: 1000 })
    await sender.clock.advance(5000)
    const future = sender.protector.outbound().seal(bytes('future'))
    const receiver = aesGcmProtector({ secret, clusterName, clock: new ManualClock(), replayWindowMs: 1000 })
    expect(() => receiver.inbound().open(future)).toThrow(expect.objectContaining({ name: 'ReplayError' }))
  })

  it('keeps later frames of a long-lived connection valid after the window has passed', async () => {
    const { clock, protector } = setup({ replayWindowMs: 1000 })
    const sealer = protector.outbound()
    const opener = protector.inbound()
    opener.open(sealer.seal(bytes('first')))
    await clock.advance(10_000)
    expect(text(opener.open(sealer.seal(bytes('later'))))).toBe('later')
  })

  it('stays closed after the first failure on an opener', () => {
    const { protector } = setup()
    const sealer = protector.outbound()
    const opener = protector.inbound()
    const first = sealer.seal(bytes('a'))
    expect(() => opener.open(new Uint8Array(40))).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
    expect(() => opener.open(first)).toThrow(expect.objectContaining({ name: 'DecryptionError' }))
  })

  it('rejects bad parameters with InvalidParametersError', () => {
    expect(() => aesGcmProtector({ secret: '', clusterName })).toThrow(InvalidParametersError)
    expect(() => aesGcmProtector({ secret, clusterName: '' })).toThrow(InvalidParametersError)
    expect(() => aesGcmProtector({ secret, clusterName, replayWindowMs: 0 })).toThrow(InvalidParametersError)
  })
})

describe('plaintextProtector', () => {
  it('passes frames through and says it does not encrypt', () => {
    const protector = plaintextProtector()
    expect(protector.encrypts).toBe(false)
    expect(text(protector.inbound().open(protector.outbound().seal(bytes('plain'))))).toBe('plain')
  })
})
