import { randomBytes } from 'node:crypto'
import type { Channel } from '../channel/channel.js'
import type { Clock } from '../clock/clock.js'
import { InvalidParametersError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import type { Discovery } from './discovery.js'

export interface HeartbeatMembershipInit {
  channel: Channel
  /** This node's route name. */
  route: string
  /** Where members may be (a static list, multicast, DNS, a port range). */
  discovery: Discovery
  /** How often to announce ourselves to every member. @default 500 */
  heartbeatIntervalMs?: number
  /** Silence after which a member is suspected and checked directly (Tomcat's dropTime). @default 3000 */
  suspectTimeoutMs?: number
  /** How long the direct check of a suspect may take before it is removed. @default 1000 */
  verifyTimeoutMs?: number
  /** This incarnation's id (random per process start). @default 16 random base64url characters */
  id?: string
  /**
   * How this node replicates (its manager and copies), announced in heartbeats: a member announcing another plan is
   * not admitted (an error is logged), since the two would not understand each other's replication.
   */
  plan?: string
  clock?: Clock
  logger?: Logger
  metrics?: Metrics
}

export const MEMBERSHIP_DEFAULTS = {
  heartbeatIntervalMs: 500,
  suspectTimeoutMs: 3_000,
  verifyTimeoutMs: 1_000,
} as const

/** A new random incarnation id. */
export function newIncarnationId(): string {
  return randomBytes(12).toString('base64url')
}

/** The timings of `init` over the defaults, validated (a named error at start-up). */
export function resolveTimings(init: HeartbeatMembershipInit): typeof MEMBERSHIP_DEFAULTS {
  const timings = { ...MEMBERSHIP_DEFAULTS, ...definedOnly(init) }
  for (const [key, value] of Object.entries(timings)) {
    if (!Number.isFinite(value) || value <= 0) throw new InvalidParametersError(`${key} must be a positive number of milliseconds`)
  }
  if (timings.suspectTimeoutMs <= timings.heartbeatIntervalMs) {
    throw new InvalidParametersError('suspectTimeoutMs must be longer than heartbeatIntervalMs')
  }
  return timings
}

function definedOnly(init: HeartbeatMembershipInit): Partial<typeof MEMBERSHIP_DEFAULTS> {
  const out: Record<string, number> = {}
  for (const key of Object.keys(MEMBERSHIP_DEFAULTS) as Array<keyof typeof MEMBERSHIP_DEFAULTS>) {
    if (init[key] !== undefined) out[key] = init[key]
  }
  return out
}
