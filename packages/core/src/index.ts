/**
 * @session-cluster/core: Tomcat-style session clustering for Node, independent of any web framework.
 *
 * @example
 * const cluster = createSessionCluster({ route: 'node1', port: 4000, members: ['10.0.0.2:4000'], secret })
 * await cluster.start()
 */
export * from './errors.js'
export * from './logger.js'
export { TypedEmitter } from './events.js'
export { Metrics } from './metrics.js'
export type { Clock, TimerHandle } from './clock/clock.js'
export { systemClock } from './clock/system-clock.js'
export { ManualClock } from './clock/manual-clock.js'
export * from './member.js'
export type { Codec } from './codec/codec.js'
export { cborCodec } from './codec/cbor-codec.js'
export type { Transport, TransportEvents, FrameHandler, FrameRejection } from './transport/transport.js'
export * from './transport/memory/index.js'
export * from './channel/index.js'
export * from './membership/index.js'
export * from './valve/index.js'
export * from './cluster/index.js'
export * from './crypto/index.js'
export * from './transport/tcp/index.js'
export * from './adapter/index.js'
