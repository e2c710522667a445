/** A cancellable timer handle. */
export interface TimerHandle {
  cancel(): void
}

/**
 * Time as a component: every timer and every "now" in the library goes through a Clock,
 * so tests drive heartbeats, suspicion, expiry and timeouts with a ManualClock instead of sleeping.
 *
 * Two readings, on purpose: `now()` is the wall clock (stamps, session times that travel between nodes) and
 * may jump when an operator or NTP steps it; `monotonic()` only moves forward, and every duration the
 * library relies on for safety (ack timeouts, read leases, failure detection) is measured with it, so a
 * clock step can neither extend a lease nor expire a member early.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number
  /** Milliseconds from an arbitrary origin that never goes back (performance.now()). */
  monotonic(): number
  /** Run `fn` once after `ms` (monotonic). Timers never keep the process alive (they are unref'd). */
  setTimeout(fn: () => void, ms: number): TimerHandle
  /** Run `fn` every `ms` until cancelled. */
  setInterval(fn: () => void, ms: number): TimerHandle
}
