// Helpers the framework adapters (packages/express, packages/fastify) share, so both store sessions alike.
export { callbackOrPromise } from './callback.js'
export type { StoreCallback } from './callback.js'
export { cookieMaxAgeChanged, cookieMaxInactiveMs, isCookieExpired, toClusterSession, toFrameworkSession } from './session-cookie.js'
export {
  COOKIE_OPTION_NAMES,
  MIN_COOKIE_SECRET_LENGTH,
  validateBoolean,
  validateCookieOptions,
  validateCookieSecret,
} from './framework-options.js'
export { closestName, describeValue, refuseUnknownOptions } from '../option-checks.js'
export {
  readTokenCookie,
  serializeTokenCookie,
  type TokenCookieOptions,
  tokenCookieName,
  versionTokenToSend,
} from './version-token-cookie.js'
export { encodeSessionCookie } from './set-cookie.js'
export {
  DEFAULT_COOKIE_NAME,
  SHARED_SESSION_OPTION_NAMES,
  type SessionOptionRules,
  type SharedSessionOptions,
  sessionClusterOf,
  validateSessionOptions,
} from './session-options.js'
export { StoreLifecycle } from './store-lifecycle.js'
export { ClusterStoreCore } from './cluster-store-core.js'
export type { ClusterStoreCoreOptions, FrameworkSessionMapping, RequestSaveState } from './cluster-store-core.js'
export { type ClusterHealth, clusterHealth, type HealthAnswer, type HealthOptions } from './health.js'
