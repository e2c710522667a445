import type { Channel } from '../channel/channel.js'
import type { LeaveReason, MemberInfo } from '../membership/membership.js'
import { recordToWire, type SessionTable, type WireRecord, WireStringTable } from '../session/index.js'
import type { AllToAllInit } from './all-to-all/all-to-all-strategy.js'
import { parseIds } from './messages.js'
import type { PeerRequestLimits } from './peer-request-limits.js'
import { type ResendCheck, ReplicationStreams } from './stream/replication-streams.js'

/**
 * The per-member streams both strategies replicate over, set up the same way from their init: batches leave early
 * in `async` mode (the change leads its answer), and a member fenced off is reported.
 */
export function replicationStreamsFor(
  init: AllToAllInit,
  onMemberGone: (member: MemberInfo, inSync: boolean, reason: LeaveReason) => void,
): ReplicationStreams {
  const { channel, membership, codec, clock, metrics, logger } = init
  return new ReplicationStreams({
    channel,
    membership,
    codec,
    clock,
    metrics,
    logger,
    ackTimeoutMs: init.ackTimeoutMs,
    leaseMs: init.leaseMs,
    maxUnackedBytes: init.maxUnackedBytes,
    maxBatchBytes: init.maxBatchBytes,
    flushEarly: init.mode === 'async',
    resendCheck: resendCheckOn(init.table),
    apply: init.apply,
    onMemberGone,
    onFenced: (member, reason) => init.onFenced?.(member, reason),
  })
}

/**
 * A change committed here earlier still goes when its batch is sent again while the session is live here, or, for a
 * destruction, while its tombstone is. Not once the session is gone from this node: its tombstone was purged (every
 * member held it), or, with owners, it was evicted once they held all of it.
 */
export function resendCheckOn(table: SessionTable): ResendCheck {
  return {
    worthResending(id, destroys) {
      const record = table.get(id)
      return record !== undefined && (record.destroyed === undefined || destroys)
    },
    removals: () => table.removals,
  }
}

/** Answer `fetch` requests (a member reading a session it may lack) with our records of those ids. */
export function answerFetches(channel: Channel, table: SessionTable, requestLimits: PeerRequestLimits): void {
  channel.handleRequest('fetch', (m, { from }) => {
    const ids = parseIds((m as { ids?: unknown }).ids)
    requestLimits.admit('records', from, ids.length)
    const strings = new WireStringTable()
    const r: WireRecord[] = []
    for (const id of ids) {
      const record = table.get(id)
      if (record) r.push(recordToWire(record, strings))
    }
    return { t: 'fetched', s: strings.list, r }
  })
}
