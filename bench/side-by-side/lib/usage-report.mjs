// Per-request figures of what processes spent between two `usage()` readings (see procs.mjs), one line per process.
import { usage } from './procs.mjs'

/** Read every process's usage now: `[{ role, pid, at }]`, to pass to `perRequest` later. */
export function snapshot(processes) {
  return processes.map((p) => ({ role: p.role, pid: p.pid, at: usage(p.pid) }))
}

/** `role user/system us, voluntary/involuntary switches` per request between two snapshots. */
export function perRequest(before, after, requests) {
  return before.map((b, i) => {
    const a = after[i].at
    if (!a || !b.at) return `${b.role} gone`
    const per = (k, digits) => ((a[k] - b.at[k]) / requests).toFixed(digits)
    return `${b.role} ${per('user', 0)}/${per('system', 0)} us ${per('voluntary', 2)}/${per('involuntary', 2)} sw`
  })
}
