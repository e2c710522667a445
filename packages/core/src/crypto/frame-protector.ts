/**
 * Per-connection authenticated encryption of frames (cf. libp2p's connection protector).
 * A connection begins with the receiver's greeting, a fresh nonce: the sender's sealer and the receiver's opener
 * are both bound to it and to the two ends' addresses, so a record is valid on that one connection only.
 * Sealers and openers are stateful (sequence numbers), so they are never shared between connections.
 */
export interface ConnectionBinding {
  /** The fresh random bytes the receiver greeted this connection with. */
  receiverNonce: Uint8Array
  /** The receiver's advertised cluster address (`host:port`), as its greeting announced it. */
  receiver: string
}

export interface FrameSealer {
  /** Encrypt and authenticate one frame. */
  seal(plaintext: Uint8Array): Uint8Array
}

export interface FrameOpener {
  /**
   * Verify and decrypt one frame. Throws `DecryptionError` (wrong key or cluster, tampered, truncated, meant for
   * another connection) or `ReplayError` (seen before, out of sequence); the transport then closes the connection.
   */
  open(frame: Uint8Array): Uint8Array
  /** The address the sender's first record claims (known once it arrived, even if it failed to authenticate). */
  readonly claimedSender: string | undefined
  /** Which of the accepted secrets opened the connection (0 = the first), once it did. */
  readonly secretIndex: number | undefined
}

export interface FrameProtector {
  /** True when frames are encrypted (false only for the loopback-only plaintext protector). */
  readonly encrypts: boolean
  /** How many secrets are accepted (several during a rotation). */
  readonly secrets: number
  /** A sealer for a connection from `sender` (our advertised address) to the receiver that greeted us. */
  outbound(binding: ConnectionBinding & { sender: string }): FrameSealer
  /** An opener for a connection we accepted and greeted with `binding`. */
  inbound(binding: ConnectionBinding): FrameOpener
}
