import type { Clock, TimerHandle } from './clock.js'

interface Timer {
  id: number
  at: number
  fn: () => void
  every?: number
}

/**
 * A clock that moves only when told to. `advance(ms)` fires due timers in time order, awaiting the
 * microtasks and immediates each one schedules, so protocol rounds (heartbeat → reply → state change)
 * complete between ticks exactly as they would in real time, without sleeping. `stepWall(ms)` moves only the
 * wall clock (an operator's or NTP's step): timers and the monotonic reading are not affected.
 */
export class ManualClock implements Clock {
  /** Monotonic time; timers are due on it. */
  #now: number
  #wallOffset = 0
  #nextId = 1
  #timers = new Map<number, Timer>()

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs
  }

  /** Whole milliseconds, like Date.now() (timers may fall due between them). */
  now(): number {
    return Math.floor(this.#now + this.#wallOffset)
  }

  monotonic(): number {
    return this.#now
  }

  /** Step the wall clock by `ms` (negative: back), as `date -s` would. */
  stepWall(ms: number): void {
    this.#wallOffset += ms
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, ms)
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, ms, Math.max(1, ms))
  }

  /**
   * A clock for one node of an in-process cluster: the same timers and monotonic time as this one, with a
   * wall clock of its own that `stepWall` moves (a clock step on one node only).
   */
  skewed(): Clock & { stepWall(ms: number): void; pause(): void; resume(): void } {
    let offset = 0
    // While paused (a SIGSTOPped process), due timers wait; on resume each runs once, as a process that wakes up
    // finds its overdue timers.
    let paused: Set<() => void> | undefined
    const gate = (fn: () => void) => () => {
      if (paused) paused.add(fn)
      else fn()
    }
    return {
      now: () => Math.floor(this.now() + offset),
      monotonic: () => this.monotonic(),
      setTimeout: (fn, ms) => this.setTimeout(gate(fn), ms),
      setInterval: (fn, ms) => this.setInterval(gate(fn), ms),
      stepWall: (ms) => {
        offset += ms
      },
      pause: () => {
        paused ??= new Set()
      },
      resume: () => {
        const due = paused
        paused = undefined
        for (const fn of due ?? []) fn()
      },
    }
  }

  /** How many timers are pending (a stopped component must leave none). */
  get pendingTimers(): number {
    return this.#timers.size
  }

  /** Move time forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms
    for (;;) {
      await settle()
      const next = this.#nextDue(end)
      if (!next) break
      this.#now = Math.max(this.#now, next.at)
      if (next.every) next.at += next.every
      else this.#timers.delete(next.id)
      next.fn()
    }
    this.#now = end
    await settle()
  }

  /** Advance in steps of `stepMs` until `predicate()` holds or `maxMs` have passed; returns whether it held. */
  async advanceUntil(predicate: () => boolean, { stepMs = 50, maxMs = 60_000 } = {}): Promise<boolean> {
    for (let waited = 0; waited <= maxMs; waited += stepMs) {
      await settle()
      if (predicate()) return true
      await this.advance(stepMs)
    }
    return predicate()
  }

  #add(fn: () => void, ms: number, every?: number): TimerHandle {
    const id = this.#nextId++
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), fn, every })
    return { cancel: () => void this.#timers.delete(id) }
  }

  #nextDue(end: number): Timer | undefined {
    let best: Timer | undefined
    for (const t of this.#timers.values()) {
      if (t.at <= end && (!best || t.at < best.at || (t.at === best.at && t.id < best.id))) best = t
    }
    return best
  }
}

/** Let pending promise callbacks and immediates run (several rounds, since handlers chain). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
