import { describe, expect, it } from 'vitest'
import type { Channel } from '../src/channel/channel.js'
import { MalformedMessageError } from '../src/errors.js'
import type { MemberInfo } from '../src/membership/membership.js'
import { Metrics } from '../src/metrics.js'
import type { PeerRequestLimits } from '../src/replication/peer-request-limits.js'
import { SessionFetch } from '../src/replication/backup/session-fetch.js'
import type { Delta, SessionTable } from '../src/session/index.js'

/** A SessionFetch whose every request is answered with `reply`; `applied` collects what it merges. */
function fetchAnswering(reply: unknown) {
  const applied: Delta[] = []
  const channel = { handleRequest: () => {}, request: async () => reply } as unknown as Channel
  const fetch = new SessionFetch({
    channel,
    table: {} as SessionTable,
    metrics: new Metrics(),
    requestLimits: { admit: () => {} } as unknown as PeerRequestLimits,
    localId: 'self',
    timeoutMs: 1_000,
    owners: () => [],
    apply: (deltas) => applied.push(...deltas),
  })
  return { fetch, applied }
}
const member = { id: 'peer', route: 'b', address: { host: '127.0.0.1', port: 1 } } as unknown as MemberInfo

describe('backup manager: a fetch reply is checked before it is merged', () => {
  it.each([null, 7, 'fetched', { t: 'fetched' }, { t: 'other', s: [], r: [] }])('a malformed reply (%j) is a MalformedMessageError', async (reply) => {
    const { fetch, applied } = fetchAnswering(reply)
    await expect(fetch.from(member, 'asked')).rejects.toBeInstanceOf(MalformedMessageError)
    expect(applied).toEqual([])
  })

  it('a record of another session than the one asked for is refused, not merged', async () => {
    const { fetch, applied } = fetchAnswering({ t: 'fetched', s: [], r: [['other']] })
    await expect(fetch.from(member, 'asked')).rejects.toBeInstanceOf(MalformedMessageError)
    expect(applied).toEqual([])
  })

  it('the record asked for is merged', async () => {
    const { fetch, applied } = fetchAnswering({ t: 'fetched', s: [], r: [['asked']] })
    await fetch.from(member, 'asked')
    expect(applied).toEqual([{ id: 'asked' }])
  })
})
