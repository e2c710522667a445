export type { ConnectionBinding, FrameOpener, FrameProtector, FrameSealer } from './frame-protector.js'
export { AES_GCM_OVERHEAD_BYTES, type AesGcmProtectorInit, aesGcmProtector } from './aes-gcm-protector.js'
export { plaintextProtector } from './plaintext-protector.js'
export { deriveClusterKey, PROTOCOL_LABEL, weakSecretReason } from './keys.js'
