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
}

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
      if (other === op.node) continue
      const isolated = mergedCuts(op.node, other, options).some(
        (c) => c.end - c.start >= options.detectionMs && c.start <= op.invokeAt && c.end + options.detectionMs >= kill.at,
      )
      if (!isolated) return false
    }
    return true
  })
}

/**
 * Cuts between two nodes (either direction) back to back merged into one: the nodes see one long isolation.
 * Two cuts are one when the second begins before the sides can have learned that the first is over: within a
 * client round (200 ms: no heartbeat gets through in between) or, after a cut longer than failure detection, within
 * `healMs` (the sides of a long cut act alone until then, see `excused`; a new cut that begins first leaves no
 * moment at which they were known to be together again).
 */
function mergedCuts(a: number, b: number, options: CheckOptions): Array<{ start: number; end: number }> {
  const spans = options.cuts
    .filter((c) => (c.from === a && c.to === b) || (c.from === b && c.to === a))
    .map((c) => ({ start: c.start, end: c.end }))
    .sort((x, y) => x.start - y.start)
  const merged: Array<{ start: number; end: number }> = []
  for (const span of spans) {
    const last = merged.at(-1)
    if (last && span.start <= last.end + reunionMs(last, options)) last.end = Math.max(last.end, span.end)
    else merged.push({ ...span })
  }
  return merged
}

function reunionMs(cut: { start: number; end: number }, options: CheckOptions): number {
  return cut.end - cut.start >= options.detectionMs ? Math.max(200, options.healMs) : 200
}

/** Whether the reader may have been cut off from the writer's node long enough to declare it failed. */
function excused(reader: number, writer: number, from: number, to: number, options: CheckOptions): boolean {
  if (reader === writer) return false
  return mergedCuts(reader, writer, options).some(
    (c) => c.end - c.start >= options.detectionMs && c.start < to && c.end + options.healMs > from,
  )
}

/**
 * Reads: a read that began after a write of the same attribute was acknowledged must not return a value whose
 * write completed before that write began (nor nothing at all), and a session destroyed before a read began
 * must not be read back. `final` (every node's data at the end, after the faults healed) must hold, per
 * attribute, a value that no acknowledged write superseded, and no destroyed session.
 */
export function checkHistory(ops: readonly Operation[], final: ReadonlyArray<Record<string, Record<string, unknown> | null>>, options: CheckOptions): Violation[] {
  const violations: Violation[] = []
  const nodes = 1 + Math.max(0, ...ops.map((o) => o.node), ...options.cuts.flatMap((c) => [c.from, c.to]))
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
    if (destroyed && read.attrs !== null && !excused(read.node, destroyed.node, destroyed.invokeAt, read.invokeAt, options)) {
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
        if (excused(read.node, w.node, w.invokeAt, read.invokeAt, options)) continue
        // The value read must not come from a write that finished before `w` began (unless the two were made on
        // two sides of a long cut: concurrent, so either may win).
        const stale =
          !source ||
          (source !== w &&
            source.completeAt !== undefined &&
            source.completeAt < w.invokeAt &&
            !excused(source.node, w.node, source.invokeAt, w.completeAt, options))
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
              !excused(source.node, w.node, source.invokeAt, w.completeAt!, options),
          )
        if (superseded) violations.push({ kind: 'lost-write', detail: `node ${n}: ${key} is ${JSON.stringify(value)} at the end; an acknowledged later write is missing` })
      }
    }
  }
  return violations
}
