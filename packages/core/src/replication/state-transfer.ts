import { randomBytes } from 'node:crypto'
import type { Channel } from '../channel/channel.js'
import type { Clock } from '../clock/clock.js'
import { MalformedMessageError, PeerBusyError } from '../errors.js'
import { type Logger, silentLogger } from '../logger.js'
import { type Address, addressKey } from '../member.js'
import type { MemberInfo, Membership } from '../membership/membership.js'
import type { Metrics } from '../metrics.js'
import {
  type Delta,
  recordFromWire,
  recordToWire,
  type SessionRecord,
  type SessionTable,
  type WireRecord,
  WireStrings,
  WireStringTable,
} from '../session/index.js'
import { ThrottledWarning } from '../throttled-warning.js'
import { parseStateChunk, parseStateRequest, type StateChunk } from './messages.js'
import type { PeerRequestLimits } from './peer-request-limits.js'
import { planRoom, STATE_TRANSFER_LIMITS, type StateTransferLimits } from './state-transfer-limits.js'

/** A transfer nobody asked about for this long is forgotten by the sender. */
const SENDER_IDLE_MS = 60_000
/** Chunks a joiner requests beyond the one it is merging. */
const CHUNKS_AHEAD = 4
/** Records merged between two looks at the socket. */
const MERGE_SLICE_RECORDS = 64
/** Fixed per-record and per-attribute overhead used when sizing a chunk (stamps, array headers). */
const RECORD_OVERHEAD = 48
const ATTR_OVERHEAD = 32
/**
 * Requests one transfer may make beyond its first, per chunk: a joiner asks for each chunk once, so twice that
 * (and a few more) leaves room for repeats while keeping a transfer from being replayed to make us encode it again.
 */
const REQUESTS_PER_CHUNK = 2
const EXTRA_REQUESTS = 8

/**
 * The sending side. A transfer snapshots the list of records once (a pointer each: under 1 MB for 100k
 * sessions), cuts it into chunks of about `chunkBytes`, and encodes a chunk only when it is asked for, as its
 * records are at that moment; the sender's extra memory is the snapshot plus the few chunks a joiner asks for
 * ahead. Records changed meanwhile are sent as they are now, and live deltas reach the joiner too; the merge
 * makes the overlap harmless. Every request is answered: two nodes starting together both finish.
 *
 * A snapshot keeps alive every record it lists, also ones the table let go of since, so the transfers served at once
 * are bounded (state-transfer-limits.ts): per peer, in total, and in the bytes their snapshots hold. A request
 * beyond them is refused with a PeerBusyError, and the joiner asks another member or again later.
 */
interface Transfer {
  /** The requester's address, as a key: a transfer is continued by the peer that started it only. */
  peer: string
  member: boolean
  records: SessionRecord[]
  /** Each chunk's end, as announced to the joiner. */
  ends: number[]
  /** Estimated bytes of the records the snapshot holds. */
  bytes: number
  touchedAt: number
  /** Chunk requests this transfer may still make. */
  requestsLeft: number
}

export interface StateTransferServerOptions {
  limits?: StateTransferLimits
  /** The peer's budget for starting transfers (`state-transfer`); none: only the caps apply. */
  requestLimits?: PeerRequestLimits
  /** Whether an address is a member of the cluster: members' transfers go before others' when room is short. */
  isMember?: (from: Address) => boolean
  logger?: Logger
}

/** Who asks, when a caller does not say (tests, a node asking itself). */
const UNNAMED: Address = { host: '0.0.0.0', port: 0 }

export class StateTransferServer {
  readonly #transfers = new Map<string, Transfer>()
  readonly #limits: StateTransferLimits
  readonly #options: StateTransferServerOptions
  readonly #refusals: ThrottledWarning
  /** The bytes of the last snapshot: what the next one is expected to hold. */
  #lastSnapshotBytes = 0

  constructor(
    private readonly table: SessionTable,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly chunkBytes: number,
    options: StateTransferServerOptions = {},
  ) {
    this.#limits = options.limits ?? STATE_TRANSFER_LIMITS
    this.#options = options
    this.#refusals = new ThrottledWarning(options.logger ?? silentLogger, clock, 'refusing state transfers: at the bounds of what this node serves at once')
  }

  attach(channel: Channel): void {
    channel.handleRequest('state-req', (m, { from }) => {
      const { x, c, e } = parseStateRequest(m)
      return { t: 'state', x, ...this.chunk(x, c, e, from) }
    })
  }

  /** Transfers open now, and the estimated bytes their snapshots hold (for status pages and tests). */
  describe(): { open: number; snapshotBytes: number } {
    this.#forgetIdle(this.clock.monotonic())
    let snapshotBytes = 0
    for (const t of this.#transfers.values()) snapshotBytes += t.bytes
    return { open: this.#transfers.size, snapshotBytes }
  }

  /** Log the summary of refusals not yet logged (on stop). */
  flush(): void {
    this.#refusals.flush()
  }

  /**
   * Records `start` up to `end` of the transfer's snapshot (`end` omitted: as many as fit in a chunk).
   * Starting at 0 takes a new snapshot, and that reply also carries every chunk boundary (`b`), so the
   * joiner can ask for the next chunks before this one has arrived.
   */
  chunk(transferId: string, start: number, end?: number, from: Address = UNNAMED): { c: number; b?: number[]; s: string[]; r: WireRecord[] } {
    const now = this.clock.monotonic()
    this.#forgetIdle(now)
    const peer = addressKey(from)
    const key = `${peer} ${transferId}`
    let transfer = this.#transfers.get(key)
    if (!transfer && start > 0) {
      // We restarted, or forgot an idle transfer: continuing from a new snapshot would skip sessions.
      throw new MalformedMessageError(`unknown state transfer ${transferId}: start again from cursor 0`)
    }
    let announce = false
    if (!transfer || start === 0) {
      transfer = this.#start(key, from, now)
      announce = true
    } else if (--transfer.requestsLeft < 0) {
      this.#transfers.delete(key)
      this.metrics.increment('state-transfer.refused.requests')
      throw new MalformedMessageError(`state transfer ${transferId} asked for more chunks than it has: start again from cursor 0`)
    }
    transfer.touchedAt = now
    const { records, ends } = transfer
    const stop = announce ? ends[0]! : announcedEnd(ends, start, end)
    const strings = new WireStringTable()
    const r: WireRecord[] = []
    for (let i = start; i < stop; i++) r.push(recordToWire(records[i]!, strings))
    const done = stop >= records.length
    if (done) this.#transfers.delete(key)
    this.metrics.increment('state-transfer.chunks-sent')
    const c = done ? -1 : stop
    return announce ? { c, b: ends, s: strings.list, r } : { c, s: strings.list, r }
  }

  /** Make room for a new transfer (or refuse it for now) and take its snapshot. */
  #start(key: string, from: Address, now: number): Transfer {
    const peer = addressKey(from)
    const member = this.#options.isMember?.(from) ?? false
    const open = [...this.#transfers].map(([k, t]) => ({ key: k, ...t }))
    const plan = planRoom(
      open.filter((t) => t.key !== key),
      { peer, member },
      this.#lastSnapshotBytes,
      now,
      this.#limits,
    )
    if ('refuse' in plan) {
      this.metrics.increment(`state-transfer.refused.${plan.refuse}`)
      this.#refusals.note(plan.refuse, { peer, open: open.length })
      const { maxTransfers, maxSnapshotBytes } = this.#limits
      throw new PeerBusyError(
        plan.refuse === 'concurrency'
          ? `serving ${open.length} state transfers already (at most ${maxTransfers}): ask another member, or again later`
          : `open state transfers hold about ${maxSnapshotBytes} bytes of snapshots already: ask another member, or again later`,
      )
    }
    // Rate last: a refusal for lack of room does not spend the peer's budget.
    this.#options.requestLimits?.admit('state-transfer', from)
    for (const t of plan.replace) this.#transfers.delete(t.key)
    for (const t of plan.evict) this.#transfers.delete(t.key)
    if (plan.replace.length > 0) this.metrics.increment('state-transfer.replaced', plan.replace.length)
    if (plan.evict.length > 0) this.metrics.increment('state-transfer.evicted', plan.evict.length)
    // Records rather than ids: the table updates a record in place, so each is still sent as it is at
    // the time of its chunk; one purged meanwhile goes out as the tombstone it was, and the joiner
    // purges it in turn.
    const records = [...this.table.records()]
    const { ends, bytes } = this.#boundaries(records)
    this.#lastSnapshotBytes = bytes
    const transfer: Transfer = {
      peer,
      member,
      records,
      ends,
      bytes,
      touchedAt: now,
      requestsLeft: REQUESTS_PER_CHUNK * ends.length + EXTRA_REQUESTS,
    }
    this.#transfers.set(key, transfer)
    this.metrics.increment('state-transfer.served')
    return transfer
  }


  /** Every chunk's end, the last being the snapshot's length, and the estimated bytes of all its records. */
  #boundaries(records: readonly SessionRecord[]): { ends: number[]; bytes: number } {
    const ends: number[] = []
    let bytes = 0
    let i = 0
    do {
      // A chunk ends after at least one record, once it holds `chunkBytes`.
      const start = i
      let chunk = 0
      while (i < records.length && (i === start || chunk < this.chunkBytes)) chunk += estimateRecordBytes(records[i++]!)
      bytes += chunk
      ends.push(i)
    } while (i < records.length)
    return { ends, bytes }
  }

  #forgetIdle(now: number): void {
    for (const [id, t] of this.#transfers) if (now - t.touchedAt > SENDER_IDLE_MS) this.#transfers.delete(id)
  }
}

/**
 * The end of the announced chunk that starts at `start`. A joiner asks for announced chunks only: a range of
 * its own choosing could make one reply as large as the whole table.
 */
function announcedEnd(ends: readonly number[], start: number, end: number | undefined): number {
  let low = 0
  let high = ends.length - 1
  while (low <= high) {
    const middle = (low + high) >> 1
    const value = ends[middle]!
    if (value === start) {
      const next = ends[middle + 1]
      if (next !== undefined && (end === undefined || end === next)) return next
      break
    }
    if (value < start) low = middle + 1
    else high = middle - 1
  }
  throw new MalformedMessageError(`records ${start} to ${end ?? '?'} are not a chunk this transfer announced`)
}

/** Roughly the bytes a record takes on the wire (sizes chunks before encoding them). */
export function estimateRecordBytes(record: SessionRecord): number {
  const { attrs } = record
  let bytes = RECORD_OVERHEAD + record.id.length + attrs.textLength
  for (let i = 0; i < attrs.size; i++) bytes += ATTR_OVERHEAD + attrs.name(i).length
  return bytes
}

export interface StateTransferClientInit {
  channel: Channel
  membership: Membership
  table: SessionTable
  clock: Clock
  metrics: Metrics
  logger: Logger
  /** Called with each slice of a chunk's records, as deltas (applies them with the normal merge and emits events). */
  apply: (deltas: Delta[]) => void
  /** Give up after this long and serve anyway (configured members that never answer are waited for this long). */
  timeoutMs: number
  /** How often to look whether members showed up. */
  pollMs: number
  /** Per-chunk request timeout. */
  requestTimeoutMs: number
}

export type StateTransferOutcome = 'complete' | 'alone' | 'timed-out'

/**
 * The joining side (DeltaManager.getAllClusterSessions without its gaps): pull every session from one
 * live member, chunk by chunk, merging while live deltas keep arriving; if the source dies mid-transfer,
 * start over from another member (the merge makes repeats harmless).
 */
export async function pullState(init: StateTransferClientInit, signal: AbortSignal): Promise<StateTransferOutcome> {
  const { membership, clock, metrics, logger } = init
  const deadline = clock.monotonic() + init.timeoutMs
  // Hear from every configured member first: deciding "alone", or who is alive, any earlier would let a
  // restarted node serve empty sessions, or rebind sessions whose node is alive. A member whose port refuses
  // connections has no node behind it and is not waited for; one that is slow to answer is, up to the timeout.
  const waited = await waitFor(() => membership.pendingSeeds() === 0, init.timeoutMs, init.pollMs, clock, signal)
  const failed = new Set<string>()
  while (!signal.aborted && clock.monotonic() < deadline) {
    const source = pickSource(membership.members(), failed)
    if (!source) {
      // Nobody to ask: we are the first node (or the only source died and left).
      if (membership.members().length === 0) {
        if (!waited) {
          metrics.increment('state-transfer.no-member-answered')
          logger.warn('no configured member answered within stateTransferTimeoutMs: starting alone', { timeoutMs: init.timeoutMs })
        }
        return 'alone'
      }
      // Every member failed us once: give them a moment and try them all again.
      failed.clear()
      await waitFor(() => false, 1_000, init.pollMs, clock, signal)
      continue
    }
    try {
      await transferFrom(source, init, deadline, signal)
      metrics.increment('state-transfer.completed')
      logger.info('state transfer complete', { from: source.route, sessions: init.table.size })
      return 'complete'
    } catch (error) {
      failed.add(source.id)
      if ((error as Error).name === 'PeerBusyError') {
        // At its bounds for now (transfers served at once, snapshot memory, rate): another member, or it again later.
        metrics.increment('state-transfer.source-busy')
        logger.info('state transfer source is busy, trying another member', { from: source.route, error: (error as Error).message })
        continue
      }
      metrics.increment('state-transfer.source-failures')
      logger.warn('state transfer source failed, trying another member', { from: source.route, error: (error as Error).message })
    }
  }
  if (signal.aborted) return 'timed-out' // the node is stopping: nothing to report
  metrics.increment('state-transfer.timeouts')
  logger.error('state transfer did not complete in time; serving without the full state', { timeoutMs: init.timeoutMs })
  return 'timed-out'
}

/** Pull every session from one member, chunk by chunk (also used to resynchronise with a member that rejoined). */
export async function transferFrom(
  source: MemberInfo,
  init: StateTransferClientInit,
  deadline: number,
  signal: AbortSignal,
): Promise<void> {
  const transferId = randomBytes(9).toString('base64url')
  const ask = (start: number, end?: number) => {
    const left = deadline - init.clock.monotonic()
    if (left <= 0) return Promise.reject(new Error('state transfer deadline passed'))
    const reply = init.channel.request(
      source.address,
      end === undefined ? { t: 'state-req', x: transferId, c: start } : { t: 'state-req', x: transferId, c: start, e: end },
      { timeoutMs: Math.min(left, init.requestTimeoutMs), signal },
    )
    // Awaited below; this only keeps a failure of a chunk we never get to from being "unhandled".
    reply.catch(() => {})
    return reply
  }
  const merge = async (chunk: StateChunk) => {
    const { records } = chunk
    const strings = new WireStrings(chunk.strings)
    for (let i = 0; i < records.length; i += MERGE_SLICE_RECORDS) {
      // Let the event loop read the socket between slices: otherwise the chunks requested ahead back up in
      // the kernel's buffers while we merge, and the source stalls until we are done.
      if (i > 0) await new Promise((resolve) => setImmediate(resolve))
      if (!init.membership.members().some((m) => m.id === source.id)) throw new Error(`${addressKey(source.address)} left`)
      init.apply(records.slice(i, i + MERGE_SLICE_RECORDS).map((record) => recordFromWire(record, strings)))
    }
    init.metrics.increment('state-transfer.chunks-received')
  }
  const first = parseStateChunk(await ask(0), transferId)
  const ends = first.boundaries
  if (!ends || first.c !== (ends.length === 1 ? -1 : ends[0])) throw new MalformedMessageError('first state chunk without its boundaries')
  // Chunk k holds records ends[k-1] up to ends[k]. Keeping CHUNKS_AHEAD requested beyond the one being merged
  // lets the source encode and send while we merge, with both sides' memory bounded by a few chunks.
  const requested: Array<Promise<unknown>> = []
  let nextChunk = 1
  const askAhead = () => {
    for (; requested.length < CHUNKS_AHEAD && nextChunk < ends.length; nextChunk++) {
      requested.push(ask(ends[nextChunk - 1]!, ends[nextChunk]!))
    }
  }
  askAhead()
  await merge(first)
  for (let k = 1; k < ends.length; k++) {
    const chunk = parseStateChunk(await requested.shift(), transferId)
    if (chunk.c !== (k === ends.length - 1 ? -1 : ends[k])) throw new MalformedMessageError(`state chunk ${k} does not end where announced`)
    askAhead()
    await merge(chunk)
  }
}

/** Prefer a member that is itself ready, then the longest running (Tomcat asks the oldest member). */
function pickSource(members: MemberInfo[], failed: Set<string>): MemberInfo | undefined {
  return members
    .filter((m) => !failed.has(m.id) && m.state === 'alive')
    .sort((a, b) => Number(b.ready) - Number(a.ready) || a.startedAt - b.startedAt || a.id.localeCompare(b.id))[0]
}

/** Resolves true once `predicate()` holds, false after `ms` or on abort. */
function waitFor(predicate: () => boolean, ms: number, pollMs: number, clock: Clock, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (predicate()) return resolve(true)
    const end = (held: boolean) => {
      poll.cancel()
      timer.cancel()
      signal.removeEventListener('abort', abort)
      resolve(held)
    }
    const abort = () => end(false)
    const poll = clock.setInterval(() => predicate() && end(true), pollMs)
    const timer = clock.setTimeout(abort, ms)
    signal.addEventListener('abort', abort, { once: true })
  })
}
