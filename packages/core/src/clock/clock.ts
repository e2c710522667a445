/** A cancellable timer handle. */
export interface TimerHandle {
  cancel(): void
}

/**
 * Time as a component: every timer and every "now" in the library goes through a Clock,
 * so tests drive heartbeats, suspicion, expiry and timeouts with a ManualClock instead of sleeping.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number
  /** Run `fn` once after `ms`. Timers never keep the process alive (they are unref'd). */
  setTimeout(fn: () => void, ms: number): TimerHandle
  /** Run `fn` every `ms` until cancelled. */
  setInterval(fn: () => void, ms: number): TimerHandle
}
