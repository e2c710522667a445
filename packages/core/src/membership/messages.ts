import { MalformedMessageError } from '../errors.js'
import { ROUTE_PATTERN, validateHost } from '../member.js'

/** Heartbeat: who I am (incarnation), where I listen, since when, and whether I serve. */
export type Heartbeat = {
  t: 'hb'
  id: string
  route: string
  host: string
  port: number
  startedAt: number
  ready: boolean
  /** Addresses (`host:port`) of the members the sender sees alive, so a node that knows one member finds all. */
  peers?: string[]
  /** How the sender replicates (its manager and copies): members must agree. Absent from older senders. */
  plan?: string
}
/** Direct liveness check of a suspect (Tomcat's TcpFailureDetector); answered with a Pong. */
export type Ping = {
  t: 'ping'
}
export type Pong = {
  t: 'pong'
  id: string
}
/** Graceful leave: remove me now instead of after the failure timeout. */
export type Bye = {
  t: 'bye'
  id: string
}
export type MembershipMessage = Heartbeat | Ping | Pong | Bye

const ID = /^[A-Za-z0-9_-]{8,64}$/

/** Peers listed per heartbeat, at most (a static cluster is a handful of nodes). */
export const MAX_GOSSIPED_PEERS = 64

export function parseHeartbeat(m: unknown): Heartbeat {
  const hb = m as Partial<Heartbeat>
  if (
    typeof hb.id !== 'string' ||
    !ID.test(hb.id) ||
    typeof hb.route !== 'string' ||
    !ROUTE_PATTERN.test(hb.route) ||
    typeof hb.host !== 'string' ||
    typeof hb.port !== 'number' ||
    !Number.isInteger(hb.port) ||
    hb.port < 1 ||
    hb.port > 65535 ||
    typeof hb.startedAt !== 'number' ||
    typeof hb.ready !== 'boolean'
  ) {
    throw new MalformedMessageError('malformed heartbeat')
  }
  try {
    validateHost(hb.host)
  } catch (error) {
    throw new MalformedMessageError('malformed heartbeat host', { cause: error })
  }
  if (hb.plan !== undefined && (typeof hb.plan !== 'string' || hb.plan.length > 64)) throw new MalformedMessageError('malformed heartbeat plan')
  if (hb.peers !== undefined) {
    if (!Array.isArray(hb.peers) || hb.peers.length > MAX_GOSSIPED_PEERS || !hb.peers.every((p) => typeof p === 'string' && p.length <= 300)) {
      throw new MalformedMessageError('malformed heartbeat peer list')
    }
  }
  return hb as Heartbeat
}

export function parseMemberId(m: unknown): string {
  const id = (m as { id?: unknown }).id
  if (typeof id !== 'string' || !ID.test(id)) throw new MalformedMessageError('malformed member id')
  return id
}
