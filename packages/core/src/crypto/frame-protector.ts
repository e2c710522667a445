/**
 * Per-connection authenticated encryption of frames (cf. libp2p's connection protector).
 * A transport asks for one sealer per outbound connection and one opener per inbound connection;
 * both are stateful (sequence numbers, replay window), so they are never shared between connections.
 */
export interface FrameSealer {
  /** Encrypt and authenticate one frame. */
  seal(plaintext: Uint8Array): Uint8Array
}

export interface FrameOpener {
  /**
   * Verify and decrypt one frame. Throws `DecryptionError` (wrong key or cluster, tampered, truncated)
   * or `ReplayError` (seen before, out of sequence, or outside the replay window); the transport then
   * closes the connection.
   */
  open(frame: Uint8Array): Uint8Array
}

export interface FrameProtector {
  /** True when frames are encrypted (false only for the loopback-only plaintext protector). */
  readonly encrypts: boolean
  outbound(): FrameSealer
  inbound(): FrameOpener
}
