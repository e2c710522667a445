// What the transport benchmark measures and the package does not export: the TCP transport, the channel and
// the frame protectors. internals.mjs bundles this file from the sources for each run.
export { Channel } from '../../packages/core/src/channel/channel.js'
export { aesGcmProtector } from '../../packages/core/src/crypto/aes-gcm-protector.js'
export { plaintextProtector } from '../../packages/core/src/crypto/plaintext-protector.js'
export { tcpTransport } from '../../packages/core/src/transport/tcp/tcp-transport.js'
