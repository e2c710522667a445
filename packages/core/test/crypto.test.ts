import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { aesGcmProtector, type ConnectionBinding, plaintextProtector, weakSecretReason } from '../src/crypto/index.js'
import { InvalidParametersError } from '../src/errors.js'

const secret = 'correct horse battery staple'
const clusterName = 'shop'
const bytes = (text: string) => new TextEncoder().encode(text)
const text = (b: Uint8Array) => new TextDecoder().decode(b)
const decryption = expect.objectContaining({ name: 'DecryptionError' })
const replay = expect.objectContaining({ name: 'ReplayError' })

const SENDER = '10.0.0.1:4000'
const RECEIVER = '10.0.0.2:4000'

/** What a receiver greets one accepted connection with. */
const greeting = (receiver = RECEIVER): ConnectionBinding => ({ receiverNonce: randomBytes(16), receiver })

/** One connection: the receiver's greeting, the sender's sealer bound to it, the receiver's opener. */
function connection(options: { secret?: string | string[]; clusterName?: string; sender?: string } = {}, receiverSecret: string | string[] = secret) {
  const binding = greeting()
  const sealer = aesGcmProtector({ secret: options.secret ?? secret, clusterName: options.clusterName ?? clusterName }).outbound({
    ...binding,
    sender: options.sender ?? SENDER,
  })
  const receiver = aesGcmProtector({ secret: receiverSecret, clusterName })
  return { binding, sealer, receiver, opener: receiver.inbound(binding) }
}

describe('aesGcmProtector', () => {
  it('round-trips frames in sequence, including an empty one, and names the sender', () => {
    const { sealer, opener } = connection()
    for (const message of ['hello', '', 'x'.repeat(100_000)]) {
      const sealed = sealer.seal(bytes(message))
      expect(Buffer.from(sealed).includes(Buffer.from('hello'))).toBe(false)
      expect(text(opener.open(sealed))).toBe(message)
    }
    expect(opener.claimedSender).toBe(SENDER)
    expect(opener.secretIndex).toBe(0)
  })

  it('never repeats a nonce under a key: each connection has its own key and numbers its records', () => {
    const { sealer } = connection()
    const sealed = new Set<string>()
    for (let i = 0; i < 3000; i++) sealed.add(Buffer.from(sealer.seal(bytes('same'))).toString('hex', 9))
    expect(sealed.size).toBe(3000)
    // Two connections to the same receiver with the same greeting still differ: each sender adds its own nonce.
    const binding = { ...greeting(), sender: SENDER }
    const protector = aesGcmProtector({ secret, clusterName })
    const [a, b] = [protector.outbound(binding).seal(bytes('same')), protector.outbound(binding).seal(bytes('same'))]
    expect(Buffer.from(a).subarray(1, 17).equals(Buffer.from(b).subarray(1, 17))).toBe(false)
    expect(Buffer.from(a).subarray(40).equals(Buffer.from(b).subarray(40))).toBe(false)
  })

  it('refuses a frame sealed under another secret, and one for another cluster name under the same secret', () => {
    const wrongSecret = connection({ secret: 'another secret entirely' })
    expect(() => wrongSecret.opener.open(wrongSecret.sealer.seal(bytes('hi')))).toThrow(decryption)
    expect(wrongSecret.opener.claimedSender).toBe(SENDER) // the receiver can still say who it refused
    const wrongCluster = connection({ clusterName: 'other' })
    expect(() => wrongCluster.opener.open(wrongCluster.sealer.seal(bytes('hi')))).toThrow(decryption)
  })

  it('accepts any of several secrets and seals with the first (rotation)', () => {
    const oldSecret = 'the old secret of the cluster'
    const newSecret = 'the new secret of the cluster'
    const fromOld = connection({ secret: oldSecret }, [newSecret, oldSecret])
    expect(text(fromOld.opener.open(fromOld.sealer.seal(bytes('old'))))).toBe('old')
    expect(fromOld.opener.secretIndex).toBe(1)
    const fromRotated = connection({ secret: [newSecret, oldSecret] }, [oldSecret, newSecret])
    expect(text(fromRotated.opener.open(fromRotated.sealer.seal(bytes('new'))))).toBe('new')
    expect(fromRotated.opener.secretIndex).toBe(1)
    const fromNew = connection({ secret: newSecret }, oldSecret)
    expect(() => fromNew.opener.open(fromNew.sealer.seal(bytes('x')))).toThrow(decryption)
  })

  it('refuses a frame with any single byte flipped', () => {
    const binding = { ...greeting(), sender: SENDER }
    const protector = aesGcmProtector({ secret, clusterName })
    const sealed = protector.outbound(binding).seal(bytes('tamper with me'))
    for (let i = 0; i < sealed.length; i++) {
      const tampered = Uint8Array.from(sealed)
      tampered[i] = (tampered[i] ?? 0) ^ 0x01
      expect(() => protector.inbound(binding).open(tampered), `byte ${i}`).toThrow(decryption)
    }
  })

  it('refuses truncated frames of every length', () => {
    const binding = { ...greeting(), sender: SENDER }
    const protector = aesGcmProtector({ secret, clusterName })
    const sealed = protector.outbound(binding).seal(bytes('truncate me'))
    for (let n = 0; n < sealed.length; n++) {
      expect(() => protector.inbound(binding).open(sealed.subarray(0, n)), `length ${n}`).toThrow(decryption)
    }
  })

  it('refuses a replayed, reordered or skipped frame within a connection', () => {
    const { sealer, opener, receiver, binding } = connection()
    const frames = [0, 1, 2, 3].map((i) => sealer.seal(bytes(String(i))))
    opener.open(frames[0]!)
    opener.open(frames[1]!)
    expect(() => opener.open(frames[1]!)).toThrow(replay)
    const other = receiver.inbound(binding)
    other.open(frames[0]!)
    expect(() => other.open(frames[2]!)).toThrow(replay)
    // A connection that starts mid-stream (a partial recording) has no first record to name its key.
    expect(() => receiver.inbound(binding).open(frames[1]!)).toThrow(decryption)
  })

  it('a recorded connection is worthless on any other connection: to the same node later, or to another node', () => {
    const { sealer, receiver } = connection()
    const recording = [sealer.seal(bytes('hello')), sealer.seal(bytes('transfer 100'))]
    // The same receiver, a new connection: a fresh nonce in its greeting.
    expect(() => receiver.inbound(greeting()).open(recording[0]!)).toThrow(decryption)
    // Another node (its address) even if it happened to greet with the same nonce.
    expect(() => receiver.inbound(greeting('10.0.0.3:4000')).open(recording[0]!)).toThrow(decryption)
  })

  it('a record cannot be reflected back to its sender (the direction is in the key)', () => {
    const binding = greeting(SENDER)
    const protector = aesGcmProtector({ secret, clusterName })
    // Sealed by RECEIVER for SENDER, then presented to RECEIVER as if SENDER had sent it.
    const sealed = protector.outbound({ ...binding, sender: RECEIVER }).seal(bytes('x'))
    expect(() => protector.inbound({ ...binding, receiver: RECEIVER }).open(sealed)).toThrow(decryption)
  })

  it('refuses frames from a second connection mixed into one, and a first record in the middle', () => {
    const a = connection()
    a.opener.open(a.sealer.seal(bytes('a0')))
    const b = a.receiver.outbound({ ...a.binding, sender: '10.0.0.9:4000' })
    b.seal(bytes('b0'))
    expect(() => a.opener.open(b.seal(bytes('b1')))).toThrow(decryption)
    const c = connection()
    c.opener.open(c.sealer.seal(bytes('c0')))
    expect(() => c.opener.open(c.receiver.outbound({ ...c.binding, sender: SENDER }).seal(bytes('d0')))).toThrow(replay)
  })

  it("names an older release's first record instead of calling it garbage", () => {
    const { opener } = connection()
    const legacy = Buffer.concat([Buffer.from([0x01]), randomBytes(60)])
    expect(() => opener.open(legacy)).toThrow(expect.objectContaining({ name: 'DecryptionError', message: expect.stringMatching(/protocol 2/) }))
  })

  it('stays closed after the first failure on an opener', () => {
    const { sealer, opener } = connection()
    const first = sealer.seal(bytes('a'))
    expect(() => opener.open(new Uint8Array(60))).toThrow(decryption)
    expect(() => opener.open(first)).toThrow(decryption)
  })

  it('rejects bad parameters with InvalidParametersError', () => {
    expect(() => aesGcmProtector({ secret: '', clusterName })).toThrow(InvalidParametersError)
    expect(() => aesGcmProtector({ secret: [], clusterName })).toThrow(InvalidParametersError)
    expect(() => aesGcmProtector({ secret, clusterName: '' })).toThrow(InvalidParametersError)
  })
})

describe('weakSecretReason', () => {
  it('names short and low-variety secrets, and accepts a random one', () => {
    expect(weakSecretReason('password123')).toMatch(/11 characters/)
    expect(weakSecretReason('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')).toMatch(/1 distinct/)
    expect(weakSecretReason(randomBytes(32).toString('base64'))).toBeUndefined()
  })
})

describe('plaintextProtector', () => {
  it('passes frames through and says it does not encrypt', () => {
    const protector = plaintextProtector()
    const binding = greeting()
    expect(protector.encrypts).toBe(false)
    expect(text(protector.inbound(binding).open(protector.outbound({ ...binding, sender: SENDER }).seal(bytes('plain'))))).toBe('plain')
  })
})
