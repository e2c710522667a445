import { describe, expect, it } from 'vitest'
import type { Channel } from '../src/channel/channel.js'
import { ManualClock } from '../src/clock/manual-clock.js'
import { silentLogger } from '../src/logger.js'
import type { MemberInfo, Membership } from '../src/membership/membership.js'
import { Metrics } from '../src/metrics.js'
import { OwnedTransfer } from '../src/replication/backup/owned-transfer.js'
import { PeerRequestLimits } from '../src/replication/peer-request-limits.js'
import { SessionTable } from '../src/session/store.js'

const UNLIMITED = { perSecond: 1_000, burst: 1_000 }
const ADDRESS = { host: '127.0.0.1', port: 4001 }
const member = (id: string, state: MemberInfo['state']) => ({ id, route: 'node2', address: ADDRESS, state }) as MemberInfo

/** The serving side of a primary/backup pull, its handler called as the channel would. */
function server(members: MemberInfo[]) {
  const handlers = new Map<string, (m: unknown, ctx: { from: typeof ADDRESS }) => unknown>()
  const channel = { handleRequest: (t: string, handler: never) => handlers.set(t, handler) } as unknown as Channel
  const clock = new ManualClock()
  const metrics = new Metrics()
  const table = new SessionTable()
  table.apply({ id: 's1', createdAt: 1, lastAccessedAt: 1, attrs: [['a', [1, 0, 'n'], '"x"']] })
  new OwnedTransfer({
    channel,
    membership: { members: () => members } as unknown as Membership,
    table,
    clock,
    metrics,
    chunkBytes: 64 * 1024,
    requestTimeoutMs: 1_000,
    requestLimits: new PeerRequestLimits({ clock, metrics, logger: silentLogger, rates: { 'state-transfer': UNLIMITED, 'anti-entropy': UNLIMITED, records: UNLIMITED } }),
    // Only the new process owns the session: the old one is suspect and placement passes it over.
    ownedBy: (m) => (m.id === 'new-process' ? ['s1'] : []),
    apply: () => {},
  })
  return (request: Record<string, unknown>) =>
    handlers.get('bk-pull')!({ t: 'bk-pull', x: 't1', c: 0, ...request }, { from: ADDRESS }) as { r: unknown[]; m: boolean }
}

describe('a primary/backup pull is served to the puller by its incarnation, not its address', () => {
  it('a process restarted at the old address is not taken for the old one, which is still listed', () => {
    const pull = server([member('old-process', 'suspect')])
    // Served as the old process it would get nothing and be told its hand-off is complete.
    expect(pull({ f: 'new-process' })).toMatchObject({ r: [], m: false })
  })

  it('once the new process is a member here, it gets what it owns and the hand-off completes', () => {
    const pull = server([member('new-process', 'alive')])
    expect(pull({ f: 'new-process' })).toMatchObject({ m: true })
    expect(pull({ f: 'new-process', x: 't2' }).r).toHaveLength(1)
  })

  it('a pull without an id (an older node) is matched by address, as before', () => {
    expect(server([member('new-process', 'alive')])({}).r).toHaveLength(1)
  })

  it('a malformed id is refused', () => {
    expect(() => server([])({ f: 42 })).toThrow(/bad owned-records request/)
    expect(() => server([])({ f: 'x'.repeat(65) })).toThrow(/bad owned-records request/)
  })
})

describe('a catch-up pull is answered only by a pull begun after it was asked for', () => {
  /** The pulling side, its member's answers held until the test releases them (one empty, final chunk each). */
  function puller() {
    const answers: Array<() => void> = []
    const channel = {
      handleRequest: () => {},
      request: () => new Promise((resolve) => answers.push(() => resolve({ t: 'bk-chunk', s: [], r: [], n: -1, m: true }))),
    } as unknown as Channel
    const clock = new ManualClock()
    const metrics = new Metrics()
    const transfer = new OwnedTransfer({
      channel,
      membership: { members: () => [], local: { id: 'me' } } as unknown as Membership,
      table: new SessionTable(),
      clock,
      metrics,
      chunkBytes: 64 * 1024,
      requestTimeoutMs: 1_000,
      requestLimits: new PeerRequestLimits({ clock, metrics, logger: silentLogger, rates: { 'state-transfer': UNLIMITED, 'anti-entropy': UNLIMITED, records: UNLIMITED } }),
      ownedBy: () => [],
      apply: () => {},
    })
    return { transfer, clock, answers }
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve))

  it('joins a pull in flight that began after the ask, and waits out one that began before it, then pulls again', async () => {
    const { transfer, clock, answers } = puller()
    const peer = member('peer', 'alive')
    const early = transfer.pull(peer)
    await settle()
    expect(answers).toHaveLength(1)
    await clock.advance(10)
    const askedAt = clock.monotonic()
    // Began before the ask: it may have read the member before the changes the ask is about.
    const late = transfer.pull(peer, askedAt)
    answers[0]!()
    expect(await early).toBe(true)
    await settle()
    expect(answers).toHaveLength(2) // a second pull went out
    let lateDone = false
    void late.then(() => (lateDone = true))
    await settle()
    expect(lateDone).toBe(false) // not answered by the first
    // A pull begun after the ask is joined, not repeated.
    const joined = transfer.pull(peer, askedAt - 1)
    answers[1]!()
    expect(await late).toBe(true)
    expect(await joined).toBe(true)
    expect(answers).toHaveLength(2)
  })
})
