import type { Clock } from '../clock/clock.js'

/** What a direct check of a member found: it answered as itself, another process answers there, or nothing. */
export type Verdict = 'alive' | 'replaced' | 'dead'

export interface FailureDetectorInit {
  clock: Clock
  /** Silence (no heartbeat) after which a member is suspected and checked directly. */
  suspectTimeoutMs: number
  /** How long a direct check may take before the member is removed. */
  verifyTimeoutMs: number
  /** Ask the member directly (a ping over our own connection) and report what came back. Must not throw. */
  verify(id: string, timeoutMs: number): Promise<Verdict>
  onSuspect(id: string, reason: string): void
  /** A suspect answered a direct check. */
  onCleared(id: string): void
  onFailed(id: string, verdict: 'replaced' | 'dead', reason: string): void
}

interface Watched {
  /** Monotonic time of the last heartbeat. */
  heardAt: number
  suspect: boolean
  /** A direct check is in flight. */
  verifying: boolean
}

/** Removed incarnations remembered at most (oldest forgotten first): a few per member that ever failed. */
const MAX_REMEMBERED_FAILURES = 1_024

/**
 * Decides when a member is suspected, cleared and removed (Tomcat's TcpFailureDetector, without its gap).
 * Silence or a reported failure (a missed ack, a dropped connection) makes a member suspect and starts a
 * direct check. Only an answer to that check over our own path (a pong) clears it: heartbeats that keep
 * arriving from it prove only that the path towards us works, and a member that receives but does not answer
 * (one-way loss, a hung replication loop) must not stay a member that every sync write waits for. A member
 * that failed its check is removed, and that incarnation is remembered: its later heartbeats do not bring it
 * back until it answers a direct check again.
 */
export class FailureDetector {
  readonly #init: FailureDetectorInit
  readonly #watched = new Map<string, Watched>()
  /** Failed incarnations → monotonic time of their last check (rate-limits re-checks of a one-way peer). */
  readonly #failed = new Map<string, number>()

  constructor(init: FailureDetectorInit) {
    this.#init = init
  }

  /** Start watching a member (it joined). */
  watch(id: string): void {
    this.#failed.delete(id)
    this.#watched.set(id, { heardAt: this.#init.clock.monotonic(), suspect: false, verifying: false })
  }

  /** Stop watching (it left or was removed); a failed one is remembered. */
  forget(id: string, failed: boolean): void {
    this.#watched.delete(id)
    if (!failed) return
    this.#failed.set(id, this.#init.clock.monotonic())
    if (this.#failed.size > MAX_REMEMBERED_FAILURES) this.#failed.delete(this.#failed.keys().next().value!)
  }

  isSuspect(id: string): boolean {
    return this.#watched.get(id)?.suspect ?? false
  }

  /** A heartbeat arrived: it resets the silence timer, but never clears a suspicion. */
  heard(id: string): void {
    const w = this.#watched.get(id)
    if (w) w.heardAt = this.#init.clock.monotonic()
  }

  /**
   * Whether this incarnation failed its check. Its heartbeats then do not admit it: `recheck` checks it
   * directly (at most once per suspect period) and admits it only if it answers.
   */
  hasFailed(id: string): boolean {
    return this.#failed.has(id)
  }

  /** Check a failed incarnation that sends heartbeats again; resolves true when it answered (admit it). */
  async recheck(id: string): Promise<boolean> {
    const last = this.#failed.get(id)
    const now = this.#init.clock.monotonic()
    if (last === undefined || now - last < this.#init.suspectTimeoutMs) return false
    this.#failed.set(id, now)
    const verdict = await this.#init.verify(id, this.#init.verifyTimeoutMs)
    if (verdict !== 'alive' || !this.#failed.has(id)) return false
    this.#failed.delete(id)
    return true
  }

  /** Something other than silence says the member may be gone (a missed ack, a dropped connection). */
  suspect(id: string, reason: string): void {
    const w = this.#watched.get(id)
    if (!w) return
    if (!w.suspect) {
      w.suspect = true
      this.#init.onSuspect(id, reason)
    }
    if (!w.verifying) void this.#check(id, w, reason)
  }

  /** Periodic: suspect every member silent for longer than suspectTimeoutMs. */
  tick(): void {
    const now = this.#init.clock.monotonic()
    for (const [id, w] of this.#watched) {
      if (now - w.heardAt > this.#init.suspectTimeoutMs) this.suspect(id, 'no heartbeat')
    }
  }

  async #check(id: string, w: Watched, reason: string): Promise<void> {
    w.verifying = true
    // Three pings, a third of the check period apart, any answer counts: one lost frame must not remove a member.
    const verdict = await new Promise<Verdict>((resolve) => {
      const { clock, verifyTimeoutMs } = this.#init
      let pending = 3
      let settled = false
      const ping = () => {
        void this.#init.verify(id, verifyTimeoutMs).then((v) => {
          pending--
          if (!settled && (v !== 'dead' || pending === 0)) {
            settled = true
            resolve(v)
          }
        })
      }
      ping()
      clock.setTimeout(ping, Math.round(verifyTimeoutMs / 3))
      clock.setTimeout(ping, Math.round((2 * verifyTimeoutMs) / 3))
    })
    w.verifying = false
    if (this.#watched.get(id) !== w) return // left or removed meanwhile
    if (verdict === 'alive') {
      w.suspect = false
      w.heardAt = this.#init.clock.monotonic()
      this.#init.onCleared(id)
      return
    }
    this.#init.onFailed(id, verdict, reason)
  }
}
