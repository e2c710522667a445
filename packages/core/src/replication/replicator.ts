import type { Channel } from '../channel/channel.js'
import type { ClusterMessage } from '../channel/message.js'
import type { Logger } from '../logger.js'
import { type Address, addressKey } from '../member.js'
import type { Membership } from '../membership/membership.js'
import type { Metrics } from '../metrics.js'
import type { ReplicationMode } from '../cluster/session-cluster.js'

export interface ReplicatorInit {
  channel: Channel
  membership: Membership
  mode: ReplicationMode
  ackTimeoutMs: number
  metrics: Metrics
  logger: Logger
}

/**
 * Sends a change to every member (all-to-all, DeltaManager style).
 * `sync`: resolves when every alive member applied it; a member that does not ack within ackTimeoutMs is
 * suspected (membership then verifies and removes it) and the miss is counted: a request never hangs on a
 * dead peer. Suspect members are sent to without waiting. `async`: resolves at once, ordered per peer.
 */
export class Replicator {
  readonly #init: ReplicatorInit

  constructor(init: ReplicatorInit) {
    this.#init = init
  }

  async broadcast(message: ClusterMessage, mode: ReplicationMode = this.#init.mode): Promise<void> {
    const { channel, membership, metrics, logger, ackTimeoutMs } = this.#init
    const members = membership.members()
    if (members.length === 0) return
    metrics.increment('replication.broadcasts')
    if (mode === 'async') {
      const report = await channel.send(
        members.map((m) => m.address),
        message,
      )
      for (const f of report.failed) this.#noteFailure(f.to, f.error)
      return
    }
    const waitFor = members.filter((m) => m.state === 'alive')
    const fireAndForget = members.filter((m) => m.state !== 'alive')
    if (fireAndForget.length > 0) {
      void channel.send(
        fireAndForget.map((m) => m.address),
        message,
      )
    }
    if (waitFor.length === 0) return
    const report = await channel.send(
      waitFor.map((m) => m.address),
      message,
      { delivery: 'ack', timeoutMs: ackTimeoutMs },
    )
    for (const f of report.failed) {
      this.#noteFailure(f.to, f.error)
      const member = waitFor.find((m) => addressKey(m.address) === addressKey(f.to))
      if (member && f.error.name === 'ReplicationTimeoutError') {
        metrics.increment('replication.ack-misses')
        membership.suspect(member.id, 'replication ack timeout')
      }
    }
    if (report.failed.length > 0) logger.debug('replication incomplete', { failed: report.failed.length })
  }

  #noteFailure(to: Address, error: Error): void {
    this.#init.metrics.increment(`replication.failures.${error.name}`)
    this.#init.logger.warn('replication to a member failed', { to: addressKey(to), error: error.message })
  }
}
