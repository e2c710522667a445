import type { FrameProtector } from './frame-protector.js'

const identity = { seal: (frame: Uint8Array) => frame }

/**
 * No encryption, no authentication: frames pass through unchanged. Transports refuse it on a
 * non-loopback address unless explicitly told `insecure: true`.
 */
export function plaintextProtector(): FrameProtector {
  return {
    encrypts: false,
    secrets: 0,
    outbound: () => identity,
    inbound: () => ({ open: (frame: Uint8Array) => frame, claimedSender: undefined, secretIndex: undefined }),
  }
}
