import { performance } from 'node:perf_hooks'
import type { Clock, TimerHandle } from './clock.js'

/** The real clock: `Date.now()`, `performance.now()` and unref'd Node timers (a cluster's timers never hold the process open). */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms): TimerHandle {
    const t = setTimeout(fn, ms)
    t.unref()
    return { cancel: () => clearTimeout(t) }
  },
  setInterval(fn, ms): TimerHandle {
    const t = setInterval(fn, ms)
    t.unref()
    return { cancel: () => clearInterval(t) }
  },
}
