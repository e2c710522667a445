// Browsers of the cart examples that write and read one session attribute through a balancer and record every
// request as an operation of the history checker (packages/core/test/support/history-checker.ts): invoked when
// sent, completed when the answer arrived, on the node the answer names; anything but a 200 is a failed one.
import { performance } from 'node:perf_hooks'
import type { Operation } from '../../packages/core/test/support/history-checker.js'
import { HttpClient } from '../support/http-client.js'

/**
 * A failed request costs nginx nothing when it has marked every node down (502 at once, for its fail_timeout):
 * without a pause, browsers would fill the history with thousands of those.
 */
const FAILURE_PAUSE_MS = 50

/** What the examples' `GET /attr` answers. */
export interface AttrAnswer {
  node: string
  sessionId: string
  attrs: Record<string, unknown>
}

/** The random part of a session id (`<random>.<route>`): the route may change (rebinding), this never does. */
const baseOf = (sessionId: string) => sessionId.slice(0, sessionId.lastIndexOf('.'))

/** `GET path` on `http`: the JSON answer of a 200, or the status otherwise (0: no answer at all). */
export async function getAttr(http: HttpClient, path: string, timeoutMs: number): Promise<AttrAnswer | number> {
  try {
    const res = await http.send('GET', path, undefined, undefined, timeoutMs)
    return res.status === 200 ? res.json<AttrAnswer>() : res.status
  } catch {
    return 0
  }
}

/** Every client's operations on one clock, and what went wrong outside the checker's view. */
export class History {
  readonly ops: Operation[] = []
  /** Answers no correct cluster gives: an unknown route, or a client's session replaced by a new one. */
  readonly anomalies: string[] = []
  /** Failed requests by status (0: no answer). */
  readonly failures = new Map<number, number>()
  readonly #t0 = performance.now()
  #nextValue = 0

  constructor(readonly routes: readonly string[]) {}

  /** Milliseconds since the history began (monotonic). */
  now(): number {
    return performance.now() - this.#t0
  }

  /** A value no other write writes. */
  nextValue(label: string): string {
    return `${label}-v${this.#nextValue++}`
  }

  failed(status: number): void {
    this.failures.set(status, (this.failures.get(status) ?? 0) + 1)
  }

  summary(): { writes: number; acked: number; reads: number; okReads: number } {
    const writes = this.ops.filter((o) => o.kind === 'write')
    const reads = this.ops.filter((o) => o.kind === 'read')
    return { writes: writes.length, acked: writes.filter((w) => w.ok).length, reads: reads.length, okReads: reads.filter((r) => r.ok).length }
  }
}

/**
 * One browser with its own cookie, hence its own session, known to the checker by `label` (its session id may
 * change route on failover; the test also fails if it ever names another session). Each round writes a new value
 * of `x`, then reads it back, each through the balancer.
 */
export class SessionClient {
  readonly http: HttpClient
  /** When each acknowledged write was invoked (history time). */
  readonly #acked: number[] = []
  #session: string | undefined
  #failed = 0

  constructor(
    readonly label: string,
    baseUrl: string,
    private readonly history: History,
    private readonly timeoutMs: number,
  ) {
    this.http = new HttpClient(baseUrl)
  }

  /** One write and one read; resolves when both answered or failed. */
  async round(): Promise<void> {
    const { history, label } = this
    const value = history.nextValue(label)
    const write: Operation = { kind: 'write', node: -1, session: label, attr: 'x', value, invokeAt: history.now(), ok: false }
    history.ops.push(write)
    const written = await getAttr(this.http, `/attr?key=x&value=${value}`, this.timeoutMs)
    // A failed operation keeps node -1: no node answered for it, and the checker never looks at it.
    if (this.#accept(written)) {
      Object.assign(write, { ok: true, completeAt: history.now(), node: history.routes.indexOf(written.node) })
      this.#acked.push(write.invokeAt)
    }
    const read: Operation = { kind: 'read', node: -1, session: label, invokeAt: history.now(), ok: false }
    history.ops.push(read)
    const answer = await getAttr(this.http, '/attr?key=x', this.timeoutMs)
    if (this.#accept(answer)) Object.assign(read, { ok: true, completeAt: history.now(), node: history.routes.indexOf(answer.node), attrs: answer.attrs })
  }

  /** How many writes invoked after `t` (history time) were acknowledged. */
  ackedSince(t: number): number {
    let n = 0
    for (let i = this.#acked.length - 1; i >= 0 && this.#acked[i]! > t; i--) n++
    return n
  }

  /** Rounds until `running()` turns false; after a failed request, a pause as a browser's user would take. */
  async run(running: () => boolean): Promise<void> {
    while (running()) {
      const failed = this.#failed
      await this.round()
      if (this.#failed > failed) await new Promise((resolve) => setTimeout(resolve, FAILURE_PAUSE_MS))
    }
  }

  /** Whether `answer` is a 200 to count; records failures and answers no correct cluster gives. */
  #accept(answer: AttrAnswer | number): answer is AttrAnswer {
    if (typeof answer === 'number') {
      this.#failed++
      this.history.failed(answer)
      return false
    }
    if (!this.history.routes.includes(answer.node)) this.history.anomalies.push(`${this.label}: an answer from unknown route ${answer.node}`)
    const base = baseOf(answer.sessionId)
    this.#session ??= base
    if (base !== this.#session) {
      // A node that did not find the session started a new one: whatever the old one held is gone.
      this.history.anomalies.push(`${this.label}: session ${this.#session} replaced by ${answer.sessionId} (node ${answer.node}) at ${this.history.now()}`)
      this.#session = base
    }
    return true
  }
}
