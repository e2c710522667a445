import type { TypedEmitter } from '../../events.js'
import type { Address } from '../../member.js'
import type { CounterCell, Metrics } from '../../metrics.js'
import type { FrameHandler, FrameRejection, TransportEvents } from '../transport.js'
import type { InboundConnection } from './inbound-connection.js'
import type { TcpTransportOptions } from './options.js'

/** What the transport shares with its connections: options, events, and the one place rejections go. */
export interface TcpContext {
  readonly options: TcpTransportOptions
  readonly events: TypedEmitter<TransportEvents>
  /** This node's advertised address (sent in every hello). */
  localAddress(): Address
  /** The current frame handler (the channel). */
  deliver: FrameHandler
  /** A peer introduced itself on an inbound connection: it is up, so stop backing off our dial to it. */
  peerIntroduced(peer: Address): void
  /** An inbound connection authenticated and named its sender: admission control stops counting it (see admission.ts). */
  introduced(connection: InboundConnection): void
  /** The counters every frame moves, bound once (see `Metrics.cell`). */
  readonly counts: TrafficCounts
  /** Log at warn, count `transport.rejected.<reason>`, emit `rejected`. */
  reject(reason: FrameRejection, remote: string, error: Error): void
}

/** `transport.frames.*`, `transport.bytes.*` and `transport.writes`. */
export interface TrafficCounts {
  readonly framesSent: CounterCell
  readonly framesReceived: CounterCell
  readonly bytesSent: CounterCell
  readonly bytesReceived: CounterCell
  readonly writes: CounterCell
}

export function trafficCounts(metrics: Metrics): TrafficCounts {
  return {
    framesSent: metrics.cell('transport.frames.sent'),
    framesReceived: metrics.cell('transport.frames.received'),
    bytesSent: metrics.cell('transport.bytes.sent'),
    bytesReceived: metrics.cell('transport.bytes.received'),
    writes: metrics.cell('transport.writes'),
  }
}
