// A history checker in the spirit of Jepsen's: clients record what they invoked, what they were told and what
// they read; the checker says which reads broke the promises of sync replication. Times are the manual
// clock's monotonic milliseconds (one global time for the whole in-process cluster).

/** One client operation. Every write writes a value no other write writes. */
export type Operation =
  | { kind: 'write'; node: number; session: string; attr: string; value: string; invokeAt: number; completeAt?: number; ok: boolean }
  | { kind: 'destroy'; node: number; session: string; invokeAt: number; completeAt?: number; ok: boolean }
  | {
      kind: 'read'
      node: number
      session: string
      invokeAt: number
      completeAt?: number
      ok: boolean
      /** Attributes read, or null when the session was not found. */
      attrs?: Record<string, unknown> | null
    }

/** A stretch of time during which `from`'s messages did not reach `to` (a partition is two of these). */
export interface Cut {
  from: number
  to: number
  start: number
  end: number
  /** The frames were held rather than lost (a paused node), and all arrived when it ended. */
  held?: boolean
}

export interface CheckOptions {
  /**
   * How long failure detection takes: a cut at least this long lets each side declare the other failed and
   * serve alone (the documented limit of an available cluster), so reads across it are not held to the writes
   * of the other side made while it lasted.
   */
  detectionMs: number
  /**
   * How long after a long cut ends its sides may still act on their own: until a heartbeat crosses and each
   * side learns the other is back.
   */
  healMs: number
  cuts: readonly Cut[]
  /** Nodes killed (SIGKILL) or stopped (a node cut off from every member hands nothing over when it stops), and when. */
  kills?: ReadonlyArray<{ node: number; at: number }>
  /**
   * Every change of each node's view of the others, in time order, when the run can record them: a member admitted
   * or removed, and a node's (re)start, which empties its view. They tell a node that still serves alone after a
   * long cut, because it has not readmitted the other side yet, from one that has and must catch up first. Without
   * them only the cuts decide.
   */
  views?: Views
  /**
   * Stretches of time during which the network dropped frames at random (every link). Not silence (a heartbeat that
   * gets through renews a ghost), but failure detection may start in one and remove a member in the cut that follows.
   */
  lossy?: readonly Span[]
}

export interface Views {
  changes: readonly ViewChange[]
  /**
   * The least time a cut lasts before a node can remove the other side: no heartbeat for the suspicion timeout (the
   * last one may have come a heartbeat interval before the cut), then an unanswered direct check. A removal sooner
   * is not the cut's doing.
   */
  removalMs: number
  /** How long a node still asks a member it removed as failed before it serves without it (the strategies' ghosts). */
  ghostMs: number
  /**
   * When a frame from node `from` last reached node `to`, at or before `at` (-Infinity: never), when the run records
   * deliveries: each may be a heartbeat that renews a ghost. Without it, silence is judged from the cuts.
   */
  lastHeard?: (from: number, to: number, at: number) => number
}

/** Node `node` admitted (`join`) or removed (`leave`) incarnation `id` of node `member`, or (`start`) was (re)started. */
export type ViewChange =
  | { node: number; member: number; id: string; kind: 'join' | 'leave'; at: number }
  | { node: number; kind: 'start'; at: number }

export interface Violation {
  kind: 'stale-read' | 'lost-write' | 'resurrected' | 'garbage'
  detail: string
}

type Write = Extract<Operation, { kind: 'write' }>

/**
 * Whether an acknowledged change may be lost by design: its node was cut off from every other node for longer
 * than failure detection (so it acknowledged on its own) and was killed before that cut ended or soon after
 * (before it was readmitted and anti-entropy copied its changes: as long again), taking the only copy with it.
 */
function fragile(op: { node: number; invokeAt: number; completeAt?: number }, nodes: number, options: CheckOptions): boolean {
  const done = op.completeAt ?? op.invokeAt
  return (options.kills ?? []).some((kill) => {
    if (kill.node !== op.node || kill.at < done) return false
    for (let other = 0; other < nodes; other++) {
      // A node that joined the cluster after the change could not have taken a copy of it.
      if (other === op.node || firstStartedAfter(other, done, options)) continue
      const isolated = mergedCuts(op.node, other, options.cuts).some(
        (c) => c.end - c.start >= options.detectionMs && c.start <= op.invokeAt && c.end + options.detectionMs >= kill.at,
      )
      if (!isolated) return false
    }
    return true
  })
}

/** Whether node `node` first started after `at` (known only from recorded views). */
function firstStartedAfter(node: number, at: number, options: CheckOptions): boolean {
  const start = options.views?.changes.find((v) => v.node === node && v.kind === 'start')
  return start !== undefined && start.at > at
}

export type Span = { start: number; end: number }

/**
 * Cuts between two nodes back to back merged into one: a node sees one long silence. Either direction, or with
 * `oneWay` only those from `a` to `b`.
 */
function mergedCuts(a: number, b: number, cuts: readonly Cut[], oneWay = false): Span[] {
  return merged(cuts.filter((c) => (c.from === a && c.to === b) || (!oneWay && c.from === b && c.to === a)))
}

/** Spans back to back (at most 200 ms apart) merged into one. */
function merged(spans: readonly Span[]): Span[] {
  const sorted = spans.map((c) => ({ start: c.start, end: c.end })).sort((x, y) => x.start - y.start)
  const merged: Span[] = []
  for (const span of sorted) {
    const last = merged.at(-1)
    // Faults that follow each other within a client round (150 ms) count as one silence. A heartbeat may cross in
    // such a gap: runs that record views judge by them instead (see `excused`).
    if (last && span.start <= last.end + 200) last.end = Math.max(last.end, span.end)
    else merged.push({ ...span })
  }
  return merged
}

/**
 * Since when `from` had been silent to `to` at `at`, or undefined if it was not: within cuts that follow each other
 * with no time between, or less than `tailMs` after one ended (its next message is still on its way), but not once a
 * pause ended (what it held arrived then, and the silence began again).
 */
function silentSince(from: number, to: number, at: number, cuts: readonly Cut[], tailMs: number): number | undefined {
  const spans = cuts.filter((c) => c.from === from && c.to === to)
  const covers = (c: Cut, t: number, tail: number) => c.start <= t && (c.held ? t < c.end : t <= c.end + tail)
  const current = spans.filter((c) => covers(c, at, tailMs))
  if (current.length === 0) return undefined
  let since = Math.min(...current.map((c) => c.start))
  for (;;) {
    const earlier = spans.find((c) => c.start < since && covers(c, since, 0))
    if (!earlier) break
    since = earlier.start
  }
  for (const c of spans) if (c.held && since < c.end && c.end <= at) since = c.end
  return since
}

/** When the link between two nodes was failing: cut (either direction) or lossy, back to back merged. */
function failingLinks(a: number, b: number, options: CheckOptions): Span[] {
  return merged([...mergedCuts(a, b, options.cuts), ...(options.lossy ?? [])])
}

/** When an operation was invoked and, if it completed, when. */
type Timed = { invokeAt: number; completeAt?: number }

/**
 * Whether `reader` may have served `read` alone, without the change `write` that `writer` acknowledged: the
 * documented limit of a cut longer than failure detection.
 * - Without recorded views, by the cuts alone: the writer's messages did not reach the reader for that long, and the
 *   change was made during the cut or soon after it (`healMs`: until a heartbeat crosses).
 * - By the recorded views (a partition that resumes before a node readmitted the other side is the same partition
 *   for it, however long the link was back): the reader served the whole read with the writer out of its view,
 *   having removed it while the link was failing (cut or lossy, for long enough to remove it by then) and not
 *   readmitted it since, and the read began once the reader had stopped asking the removed writer: `ghostMs` after
 *   the removal and after the writer's messages last reached it (each renews the ghost). A node that readmitted the
 *   other must catch up before it serves. The writer's side needs no condition: it acknowledges without a member
 *   only once that member's lease on reads has run out, which binds a member that still counts the writer as one,
 *   not one that removed it.
 */
function excused(reader: number, writer: number, write: Timed, read: Timed, options: CheckOptions): boolean {
  if (reader === writer) return false
  const { detectionMs, healMs, views } = options
  if (!views) {
    // Only a silence of the writer's side: a reader that still hears the writer keeps asking it (see below).
    const silences = mergedCuts(writer, reader, options.cuts, true)
    return silences.some((c) => c.end - c.start >= detectionMs && c.start < read.invokeAt && c.end + healMs > write.invokeAt)
  }
  const removedAt = outOfViewSince(views.changes, reader, writer, read.completeAt ?? read.invokeAt)
  if (removedAt === undefined) return false
  // Every heartbeat the reader hears from the member it removed starts its ghost period again: it stops asking only
  // once the writer's side has been silent that long (a lossy link is not silent). The read may come just after the
  // silence, before the writer's next heartbeat (`healMs`).
  const silent = views.lastHeard ? views.lastHeard(writer, reader, read.invokeAt) : silentSince(writer, reader, read.invokeAt, options.cuts, healMs)
  return (
    silent !== undefined &&
    Math.max(removedAt, silent) + views.ghostMs <= read.invokeAt &&
    failingLinks(reader, writer, options).some((c) => c.start + views.removalMs <= removedAt && removedAt <= c.end + healMs)
  )
}

/**
 * Whether `later` was made without `earlier`, which its node could not see: judged when it began (its load read the
 * value it builds on), though its node may readmit `earlier`'s before its save went out.
 */
function concurrent(later: Timed & { node: number }, earlier: Timed & { node: number }, options: CheckOptions): boolean {
  return excused(later.node, earlier.node, earlier, { invokeAt: later.invokeAt }, options)
}

/**
 * Since when `node` had no incarnation of `member` in its view at `at` (the removal that emptied it); undefined if it
 * had one then, or never had one (a node starts with nobody). `views` are in time order.
 */
function outOfViewSince(views: readonly ViewChange[], node: number, member: number, at: number): number | undefined {
  const inView = new Set<string>()
  let since: number | undefined
  for (const v of views) {
    if (v.node !== node || v.at > at) continue
    if (v.kind === 'start') {
      inView.clear()
      since = undefined
    } else if (v.member === member) {
      if (v.kind === 'join') inView.add(v.id)
      else if (inView.delete(v.id) && inView.size === 0) since = v.at
      if (inView.size > 0) since = undefined
    }
  }
  return since
}

/**
 * Reads: a read that began after a write of the same attribute was acknowledged must not return a value whose
 * write completed before that write began (nor nothing at all), and a session destroyed before a read began
 * must not be read back. `final` (every node's data at the end, after the faults healed) must hold, per
 * attribute, a value that no acknowledged write superseded, and no destroyed session.
 */
export function checkHistory(ops: readonly Operation[], final: ReadonlyArray<Record<string, Record<string, unknown> | null>>, options: CheckOptions): Violation[] {
  const violations: Violation[] = []
  const nodes = 1 + Math.max(0, ...ops.map((o) => o.node), ...options.cuts.flatMap((c) => [c.from, c.to]), ...(options.views?.changes ?? []).map((v) => v.node))
  const writesBy = new Map<string, Write[]>()
  const byValue = new Map<string, Write>()
  const destroys = ops.filter((o): o is Extract<Operation, { kind: 'destroy' }> => o.kind === 'destroy')
  for (const op of ops) {
    if (op.kind !== 'write') continue
    const key = `${op.session}/${op.attr}`
    let list = writesBy.get(key)
    if (!list) writesBy.set(key, (list = []))
    list.push(op)
    byValue.set(op.value, op)
  }
  const ackedDestroyBefore = (session: string, t: number) =>
    destroys.find((d) => d.session === session && d.ok && d.completeAt !== undefined && d.completeAt < t && !fragile(d, nodes, options))
  const anyDestroyOf = (session: string) => destroys.some((d) => d.session === session)

  for (const read of ops) {
    if (read.kind !== 'read' || !read.ok || read.attrs === undefined) continue
    const destroyed = ackedDestroyBefore(read.session, read.invokeAt)
    if (destroyed && read.attrs !== null && !excused(read.node, destroyed.node, destroyed, read, options)) {
      violations.push({ kind: 'resurrected', detail: `read on node ${read.node} at ${read.invokeAt} found ${read.session}, destroyed at ${destroyed.completeAt}` })
      continue
    }
    if (read.attrs === null && anyDestroyOf(read.session)) continue
    for (const [key, writes] of writesBy) {
      const [session, attr] = key.split('/') as [string, string]
      if (session !== read.session) continue
      const value = read.attrs?.[attr]
      const source = typeof value === 'string' ? byValue.get(value) : undefined
      if (value !== undefined && !source) {
        violations.push({ kind: 'garbage', detail: `read of ${key} on node ${read.node} returned ${JSON.stringify(value)}, never written` })
        continue
      }
      for (const w of writes) {
        if (!w.ok || w.completeAt === undefined || w.completeAt >= read.invokeAt || fragile(w, nodes, options)) continue
        if (excused(read.node, w.node, w, read, options)) continue
        // The value read must not come from a write that finished before `w` began (unless the two were made on
        // two sides of a long cut: concurrent, so either may win).
        const stale =
          !source ||
          (source !== w &&
            source.completeAt !== undefined &&
            source.completeAt < w.invokeAt &&
            !concurrent(w, source, options))
        if (stale) {
          violations.push({
            kind: 'stale-read',
            detail: `read of ${key} on node ${read.node} at ${read.invokeAt} returned ${JSON.stringify(value)}; ${w.value} (node ${w.node}) was acknowledged at ${w.completeAt}`,
          })
          break
        }
      }
    }
  }

  // The end state, on every node.
  const sessions = new Set(ops.map((o) => o.session))
  for (const [n, data] of final.entries()) {
    for (const session of sessions) {
      const attrs = data[session]
      if (destroys.some((d) => d.session === session && d.ok && !fragile(d, nodes, options))) {
        if (attrs) violations.push({ kind: 'resurrected', detail: `node ${n} holds destroyed session ${session} at the end` })
        continue
      }
      if (anyDestroyOf(session)) continue // a destroy whose outcome is unknown may or may not have happened
      for (const [key, writes] of writesBy) {
        const [s, attr] = key.split('/') as [string, string]
        if (s !== session) continue
        const acked = writes.filter((w) => w.ok && w.completeAt !== undefined && !fragile(w, nodes, options))
        if (acked.length === 0) continue
        const value = attrs?.[attr]
        const source = typeof value === 'string' ? byValue.get(value) : undefined
        // Superseded: some acknowledged write began after the source's write had completed (writes made on two
        // sides of a long cut are concurrent: either may win).
        const superseded =
          !source ||
          acked.some(
            (w) =>
              w !== source &&
              source.completeAt !== undefined &&
              source.completeAt < w.invokeAt &&
              !concurrent(w, source, options),
          )
        if (superseded) violations.push({ kind: 'lost-write', detail: `node ${n}: ${key} is ${JSON.stringify(value)} at the end; an acknowledged later write is missing` })
      }
    }
  }
  return violations
}
