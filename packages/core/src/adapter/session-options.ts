import { createSessionCluster } from '../cluster/create-session-cluster.js'
import type { SessionClusterInit } from '../cluster/options.js'
import type { SessionCluster } from '../cluster/session-cluster.js'
import { InvalidParametersError } from '../errors.js'
import { describeValue, refuseUnknownOptions } from '../option-checks.js'
import { type RebindMode, validateRebindMode } from '../valve/route-binding.js'
import { createStaticFilter, type StaticFilterOption } from '../valve/static-filter.js'
import { validateBoolean, validateCookieSecret } from './framework-options.js'

/**
 * What both adapters' `clusterSession` do alike with their options: the same names mean the same and fail the
 * same way, and the cluster is created (and later stopped) by the adapter, or passed in and left to its owner.
 */

/** The options both adapters' `clusterSession` take, with the same meaning and defaults; each adds its framework's. */
export interface SharedSessionOptions {
  /** Cookie signing secret, at least 32 characters; an array rotates (the first signs, all verify). Required. */
  secret: string | string[]
  /**
   * Options to create a cluster (started at once, stopped when the adapter closes), or a SessionCluster you own
   * (started here if it is not, never stopped here).
   */
  cluster: SessionClusterInit | SessionCluster
  /** Session cookie name; without a dot so nginx can read `$cookie_sid`. @default 'sid' */
  name?: string
  /**
   * Save (and send a cookie for) new sessions the request did not modify. Off (as in express-session; @fastify/session
   * defaults to on): every cookieless request would otherwise create a session and replicate it to every node.
   * @default false
   */
  saveUninitialized?: boolean
  /** Requests whose path matches neither load nor replicate the session. @default DEFAULT_STATIC_FILTER */
  staticFilter?: StaticFilterOption
  /** Rebind a session to this node when its route's node is gone (`'failover'`), always, or never. @default 'failover' */
  rebind?: RebindMode
}

/** The session cookie's name unless the `name` option says otherwise (nginx's templates read `$cookie_sid`). */
export const DEFAULT_COOKIE_NAME = 'sid'

/** Options every adapter's `clusterSession` takes, with the same meaning. */
export const SHARED_SESSION_OPTION_NAMES = ['secret', 'cluster', 'name', 'cookie', 'rolling', 'saveUninitialized', 'staticFilter', 'rebind'] as const

/** A cookie name token (RFC 6265); the adapters' default is `sid`, without a dot so nginx can read `$cookie_sid`. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export interface SessionOptionRules {
  /** Starts every error message, e.g. `clusterSession: `. */
  prefix: string
  /** The adapter's own option names, next to the shared ones. */
  own: readonly string[]
  /** Options of the framework's session library that the adapter sets itself, and why. */
  refused: Readonly<Record<string, string>>
  /** Options that must be booleans when given (`rolling` and `saveUninitialized` always are). */
  booleans?: readonly string[]
  /** Options that must be cookie names when given (`name` always is). */
  cookieNames?: readonly string[]
}

/**
 * The checks both adapters share: known names only (with "did you mean"), the cookie secret rule, a cluster,
 * cookie names, booleans, `rebind` and `staticFilter`. The `cookie` option is the adapter's to check (its
 * framework decides whether a function of the request is allowed). Throws InvalidParametersError.
 */
export function validateSessionOptions(options: unknown, rules: SessionOptionRules): asserts options is Record<string, unknown> {
  const { prefix } = rules
  if (typeof options !== 'object' || options === null) {
    throw new InvalidParametersError(`${prefix}an options object is required, got ${describeValue(options)}`)
  }
  refuseUnknownOptions(options, new Set<string>([...SHARED_SESSION_OPTION_NAMES, ...rules.own]), { what: 'option', prefix, refused: rules.refused })
  const values = options as Record<string, unknown>
  validateCookieSecret(values.secret, prefix)
  if (typeof values.cluster !== 'object' || values.cluster === null) {
    throw new InvalidParametersError(`${prefix}cluster is required (SessionClusterInit options or a SessionCluster), got ${describeValue(values.cluster)}`)
  }
  for (const key of ['name', ...(rules.cookieNames ?? [])]) {
    const value = values[key]
    if (value !== undefined && (typeof value !== 'string' || !COOKIE_NAME.test(value))) {
      throw new InvalidParametersError(`${prefix}${key} must be a cookie name token, got ${describeValue(value)}`)
    }
  }
  for (const key of ['rolling', 'saveUninitialized', ...(rules.booleans ?? [])]) validateBoolean(options, key, prefix)
  validateRebindMode(values.rebind)
  createStaticFilter(values.staticFilter as never)
}

/**
 * The cluster a `clusterSession` runs on: created from options (`owned`: the adapter stops it when it closes), or
 * the SessionCluster passed in (started by the adapter if it is not, never stopped by it). `defaults` fill in
 * options the application left out (the framework's logger, say).
 */
export function sessionClusterOf(option: SessionClusterInit | SessionCluster, defaults: Partial<SessionClusterInit> = {}): { cluster: SessionCluster; owned: boolean } {
  if (isSessionCluster(option)) return { cluster: option, owned: false }
  return { cluster: createSessionCluster({ ...defaults, ...option }), owned: true }
}

function isSessionCluster(value: unknown): value is SessionCluster {
  const c = value as Partial<SessionCluster> | null
  return typeof c === 'object' && c !== null && typeof c.load === 'function' && typeof c.save === 'function' && typeof c.generateId === 'function'
}
