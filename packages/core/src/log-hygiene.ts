import type { Clock, TimerHandle } from './clock/clock.js'
import type { Logger } from './logger.js'

type Level = 'info' | 'warn' | 'error'
type Fields = Record<string, unknown>

/** Fields that say which peer a line is about: a repeat is the same message about the same peer. */
const PEER_FIELDS = ['peer', 'from', 'address', 'kind', 'reason'] as const
/** Distinct lines tracked at once; beyond it the oldest is summarised early. */
const MAX_TRACKED = 256

interface Tracked {
  level: Level
  msg: string
  fields: Fields | undefined
  /** Monotonic time of the last line written for this key. */
  writtenAt: number
  /** Occurrences since then, not written. */
  suppressed: number
  timer: TimerHandle | undefined
}

/**
 * Write a line that keeps coming (a peer that refuses us on every reconnect, a member suspected again and again)
 * once per interval: the first occurrence at once; the next ones within the interval only counted, and written
 * as one line when it ends: `cannot connect to peer (repeated 12 times)`, with the fields of the last one.
 * A line is a repeat when its level, message and peer fields (peer, from, address, kind, reason) are the same.
 * Debug lines pass through untouched.
 */
export function rateLimitedLogger(logger: Logger, clock: Clock, intervalMs: number): Logger & { flush(): void } {
  const tracked = new Map<string, Tracked>()
  const flush = (key: string) => {
    const t = tracked.get(key)
    if (!t) return
    t.timer?.cancel()
    tracked.delete(key)
    if (t.suppressed > 0) logger[t.level](`${t.msg} (repeated ${t.suppressed} time${t.suppressed === 1 ? '' : 's'})`, t.fields)
  }
  const at =
    (level: Level) =>
    (msg: string, fields?: Fields): void => {
      const key = keyOf(level, msg, fields)
      const now = clock.monotonic()
      const t = tracked.get(key)
      if (t && now - t.writtenAt < intervalMs) {
        t.suppressed++
        t.fields = fields
        // The count is written when the interval ends, even if the line never comes again. Only a repeat arms a
        // timer: a line that comes once leaves nothing pending.
        t.timer ??= clock.setTimeout(() => flush(key), t.writtenAt + intervalMs - now)
        return
      }
      if (t) flush(key)
      logger[level](msg, fields)
      if (tracked.size >= MAX_TRACKED) flush(tracked.keys().next().value!)
      tracked.set(key, { level, msg, fields, writtenAt: now, suppressed: 0, timer: undefined })
    }
  return {
    debug: (m, f) => logger.debug(m, f),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    /** Write the pending counts now (the node stops: its timers will not fire). */
    flush: () => {
      for (const key of [...tracked.keys()]) flush(key)
    },
  }
}

function keyOf(level: Level, msg: string, fields: Fields | undefined): string {
  let key = `${level}\u0000${msg}`
  if (fields) for (const name of PEER_FIELDS) if (typeof fields[name] === 'string') key += `\u0000${name}=${fields[name]}`
  return key
}

/**
 * Name the peer by its route as well as its cluster address: a line with a `peer` (or `from`, `address`) field
 * holding a member's `host:port` gets `peerRoute` added. `routeOf` answers from the current membership.
 */
export function peerNamingLogger(logger: Logger, routeOf: (address: string) => string | undefined): Logger {
  const at =
    (level: keyof Logger) =>
    (msg: string, fields?: Fields): void => {
      if (fields && fields.peerRoute === undefined) {
        const address = [fields.peer, fields.from, fields.address].find((v): v is string => typeof v === 'string')
        const route = address === undefined ? undefined : routeOf(address)
        if (route !== undefined) fields = { ...fields, peerRoute: route }
      }
      logger[level](msg, fields)
    }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
