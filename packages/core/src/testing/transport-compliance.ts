import { describe, expect, it } from 'vitest'
import type { Address } from '../member.js'
import type { Transport } from '../transport/transport.js'

/**
 * The contract every Transport passes (cf. js-libp2p's interface-compliance-tests). An implementation
 * runs it in a few lines:
 *
 * @example
 * transportComplianceSuite('memory', async (count) => { ...; return { transports, createAt, teardown } })
 */
export interface TransportHarness {
  /** `count` started transports that can all reach each other. */
  readonly transports: Transport[]
  /** A new, not yet started transport that will listen on exactly `address` (a peer that comes up late). */
  createAt(address: Address): Transport
  /** Stop every transport the harness created, including those from `createAt`. */
  teardown(): Promise<void>
}

export type TransportHarnessFactory = (count: number) => Promise<TransportHarness>

interface Received {
  from: Address
  frame: Uint8Array
}

const WAIT_TIMEOUT_MS = 10_000

export function transportComplianceSuite(name: string, factory: TransportHarnessFactory): void {
  async function withHarness(count: number, run: (harness: TransportHarness) => Promise<void>): Promise<void> {
    const harness = await factory(count)
    try {
      await run(harness)
    } finally {
      await harness.teardown()
    }
  }

  describe(`transport compliance: ${name}`, () => {
    it('delivers 1,000 frames from one sender intact and in order', async () => {
      await withHarness(2, async ({ transports: [a, b] }) => {
        const received = collect(b!)
        const sent = Array.from({ length: 1000 }, (_, i) => numberedFrame(i, 1 + (i % 300)))
        for (const frame of sent) expect(a!.send(b!.address, frame)).toBe(true)
        await waitFor(() => received.length >= sent.length, 'all 1,000 frames')
        expect(received.map((r) => Buffer.from(r.frame).toString('hex'))).toEqual(sent.map((f) => Buffer.from(f).toString('hex')))
      })
    })

    it('keeps each sender ordered when two senders share one receiver', async () => {
      await withHarness(3, async ({ transports: [a, b, receiver] }) => {
        const received = collect(receiver!)
        for (let i = 0; i < 500; i++) {
          a!.send(receiver!.address, numberedFrame(i, 16))
          b!.send(receiver!.address, numberedFrame(i, 16))
        }
        await waitFor(() => received.length >= 1000, '1,000 frames from two senders')
        for (const sender of [a!, b!]) {
          const sequence = received.filter((r) => sameAddress(r.from, sender.address)).map((r) => frameNumber(r.frame))
          expect(sequence).toEqual(Array.from({ length: 500 }, (_, i) => i))
        }
      })
    })

    it("reports `from` as the sender's listening address", async () => {
      await withHarness(2, async ({ transports: [a, b] }) => {
        const received = collect(b!)
        a!.send(b!.address, numberedFrame(7, 8))
        await waitFor(() => received.length === 1, 'one frame')
        expect(sameAddress(received[0]!.from, a!.address)).toBe(true)
      })
    })

    it('delivers a frame sent before the peer listens, once it is up', async () => {
      await withHarness(2, async (harness) => {
        const [a, b] = harness.transports
        const lateAddress = b!.address
        await b!.stop()
        const ups: Address[] = []
        a!.on('peerUp', (peer) => ups.push(peer))
        expect(() => a!.send(lateAddress, numberedFrame(1, 32))).not.toThrow()
        await sleep(150)
        const late = harness.createAt(lateAddress)
        const received = collect(late)
        await late.start()
        await waitFor(() => received.length === 1, 'the frame queued before the peer listened')
        expect(frameNumber(received[0]!.frame)).toBe(1)
        expect(sameAddress(received[0]!.from, a!.address)).toBe(true)
        expect(ups.some((peer) => sameAddress(peer, lateAddress))).toBe(true)
      })
    })

    it('has idempotent start and stop', async () => {
      await withHarness(2, async ({ transports: [a, b] }) => {
        const address = a!.address
        await Promise.all([a!.start(), a!.start()])
        await a!.start()
        expect(a!.address).toEqual(address)
        await Promise.all([a!.stop(), a!.stop()])
        await a!.stop()
        await b!.stop()
        await b!.stop()
      })
    })

    it('delivers nothing after stop, and send does not throw', async () => {
      await withHarness(3, async ({ transports: [a, b, c] }) => {
        const atB = collect(b!)
        const atC = collect(c!)
        await a!.stop()
        expect(() => a!.send(b!.address, numberedFrame(1, 8))).not.toThrow()
        await c!.stop()
        expect(() => b!.send(c!.address, numberedFrame(2, 8))).not.toThrow()
        await sleep(200)
        expect(atB).toEqual([])
        expect(atC).toEqual([])
      })
    })

    it('delivers 1 MiB frames intact, in order with small ones', async () => {
      await withHarness(2, async ({ transports: [a, b] }) => {
        const received = collect(b!)
        const big = numberedFrame(0, 1024 * 1024)
        const frames = [big, numberedFrame(1, 10), numberedFrame(2, 1024 * 1024)]
        for (const frame of frames) expect(a!.send(b!.address, frame)).toBe(true)
        await waitFor(() => received.length === 3, 'three frames')
        expect(received.map((r, i) => Buffer.compare(r.frame, frames[i]!))).toEqual([0, 0, 0])
      })
    })
  })
}

function collect(transport: Transport): Received[] {
  const received: Received[] = []
  transport.onFrame((from, frame) => received.push({ from, frame }))
  return received
}

/** A frame whose first 4 bytes number it and whose rest is a pattern derived from the number (detects corruption). */
function numberedFrame(n: number, bytes: number): Uint8Array {
  const frame = Buffer.allocUnsafe(Math.max(4, bytes))
  frame.writeUInt32BE(n, 0)
  for (let i = 4; i < frame.length; i++) frame[i] = (n * 31 + i * 7) & 0xff
  return frame
}

function frameNumber(frame: Uint8Array): number {
  return Buffer.from(frame.buffer, frame.byteOffset, frame.length).readUInt32BE(0)
}

function sameAddress(a: Address, b: Address): boolean {
  return a.host === b.host && a.port === b.port
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function waitFor(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_TIMEOUT_MS} ms waiting for ${what}`)
    await sleep(5)
  }
}
