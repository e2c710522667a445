import { isIP } from 'node:net'
import { InvalidParametersError } from './errors.js'
import { describeValue } from './option-checks.js'

/** Where a node's cluster transport listens. */
export interface Address {
  readonly host: string
  readonly port: number
}

/**
 * One incarnation of a node. `id` is random per process start, so a restarted process is a new
 * member (leave + join) even at the same address and route.
 */
export interface Member {
  /** Random per start (16 base64url chars). */
  readonly id: string
  /** The node's route name: the session-id suffix a sticky balancer routes on. */
  readonly route: string
  readonly address: Address
}

export const ROUTE_PATTERN = /^[A-Za-z0-9_-]{1,32}$/

/** `host:port` (IPv6 as `[::1]:4000`): the key peers and queues are indexed by. */
export function addressKey(address: Address): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

export function sameAddress(a: Address, b: Address): boolean {
  return a.port === b.port && normalizeHost(a.host) === normalizeHost(b.host)
}

function normalizeHost(host: string): string {
  const h = host.toLowerCase()
  return h === 'localhost' ? '127.0.0.1' : h
}

export function validatePort(port: unknown, what: string, { allowZero = true } = {}): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new InvalidParametersError(`${what} must be an integer ${allowZero ? '0' : '1'}-65535, got ${describeValue(port)}`)
  }
  return port
}

export function validateRoute(route: unknown): string {
  if (typeof route !== 'string' || !ROUTE_PATTERN.test(route)) {
    throw new InvalidParametersError(`route must match ${ROUTE_PATTERN} (letters, digits, _ or -, at most 32), got ${describeValue(route)}`)
  }
  return route
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

export function validateHost(host: unknown, what = 'host'): string {
  if (typeof host !== 'string' || !(isIP(host) || HOSTNAME.test(host))) {
    throw new InvalidParametersError(`${what} must be an IP address or a hostname, got ${describeValue(host)}`)
  }
  return host
}

/** Parse `host:port` or `[v6]:port` (an `Address` object passes through, validated). */
export function parseAddress(input: string | Address, what = 'member address'): Address {
  if (typeof input === 'object' && input !== null) {
    return { host: validateHost(input.host, what), port: validatePort(input.port, what, { allowZero: false }) }
  }
  if (typeof input !== 'string') throw new InvalidParametersError(`${what} must be "host:port", got ${describeValue(input)}`)
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(input) ?? /^([^:[\]]+):(\d{1,5})$/.exec(input)
  if (!m) throw new InvalidParametersError(`${what} must be "host:port", got ${describeValue(input)}`)
  return { host: validateHost(m[1], what), port: validatePort(Number(m[2]), what, { allowZero: false }) }
}

/** True for 127.0.0.0/8, ::1 and `localhost`: addresses that need no secret. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}
