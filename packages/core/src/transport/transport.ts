import type { Address } from '../member.js'

/** Why a transport closed a connection or refused a frame: counted and logged, never thrown at the caller. */
export type FrameRejection =
  | 'frame-too-large'
  | 'decryption-failed'
  | 'replay'
  | 'bad-hello'
  /** The peer's hello names no wire protocol version this node speaks. */
  | 'incompatible-version'
  | 'malformed'
  | 'queue-full'
  /** Admission control closed a connection that had not introduced itself, to make room for a newer one. */
  | 'too-many-connections'

/** Why a peer would not take our connection (see `TransportEvents.peerRefused`). */
export type PeerRefusal = 'wrong-secret' | 'incompatible-version' | 'not-a-node'

export interface TransportEvents {
  /**
   * A connection was closed because of what the peer sent (bad input), or because it did not introduce itself in
   * time or in number (admission control); the process keeps running.
   */
  rejected: (info: { reason: FrameRejection; remote: string; error?: Error }) => void
  /** An outbound connection to a peer failed or dropped (it will be retried with backoff). */
  peerDown: (peer: Address, error?: Error) => void
  /** An outbound connection to a peer is established (it greeted us, and we speak a common protocol). */
  peerUp: (peer: Address) => void
  /**
   * A peer refused our connection: our records did not authenticate there (`wrong-secret`: the secret or the
   * cluster name differs), we share no protocol version, or what answers at that address is no node of ours.
   * A `peerDown` follows; the transport keeps retrying with backoff, so a corrected peer is found again.
   */
  peerRefused: (peer: Address, reason: PeerRefusal, error: Error) => void
}

export type FrameHandler = (from: Address, frame: Uint8Array) => void

/**
 * Moves opaque frames between nodes. Frames from one sender arrive in the order sent; nothing is
 * promised across senders. Delivery is best effort: reliability (acks, retries) is the channel's job.
 */
export interface Transport {
  /** The address peers reach this node on. Valid after `start()`: port 0 becomes the real port. */
  readonly address: Address
  /** Begin listening. Idempotent. */
  start(): Promise<void>
  /** Flush what is queued to connected peers (bounded), close every connection and the listener, clear timers. Idempotent. */
  stop(): Promise<void>
  /**
   * Queue a frame for `to`, connecting if needed. Returns false (and emits `rejected` with
   * `queue-full`) when the peer's bounded queue is full; the frame is then not sent.
   */
  send(to: Address, frame: Uint8Array): boolean
  /**
   * Drop what is queued for a peer that left and close our connection to it (no more dialling); sending to
   * it again starts afresh.
   */
  forget(peer: Address): void
  /**
   * Write what is queued now rather than at the end of this event-loop turn. For a caller that already gathered a
   * turn's frames (replication batches, sent from the check phase): without it they would wait one more turn.
   */
  flush?(): void
  /** Set the single receiver of inbound frames (the channel). `from` is the sender's listening address. */
  onFrame(handler: FrameHandler): void
  /** Subscribe to transport events; returns the unsubscribe function. */
  on<K extends keyof TransportEvents>(event: K, listener: TransportEvents[K]): () => void
}

/**
 * Whether a `peerDown` error says nothing listens at the peer's address (ECONNREFUSED): unlike a reset or a
 * timeout, that proves no node is running there, so the member can be removed at once.
 */
export function isConnectionRefused(error: Error | undefined): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED'
}
