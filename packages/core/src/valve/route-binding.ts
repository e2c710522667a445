import { InvalidParametersError } from '../errors.js'
import { describeValue } from '../option-checks.js'

/**
 * When a request's session id names another route (Tomcat's JvmRouteBinderValve):
 * - `'failover'` (default): rebind to this node only if the route's node is no longer a live member,
 *   so a round-robin balancer does not flip the cookie on every hop;
 * - `'always'`: rebind whenever the route is not ours (Tomcat's behaviour);
 * - `false`: never rebind.
 */
export type RebindMode = 'failover' | 'always' | false

export function validateRebindMode(mode: unknown): RebindMode {
  if (mode === undefined) return 'failover'
  if (mode === 'failover' || mode === 'always' || mode === false) return mode
  throw new InvalidParametersError(`rebind must be 'failover', 'always' or false, got ${describeValue(mode)}`)
}

/** The route a session should carry after this request, given its current route. */
export function chooseRoute(current: string, local: string, mode: RebindMode, isLive: (route: string) => boolean): string {
  if (current === local || mode === false) return current
  if (mode === 'always') return local
  return isLive(current) ? current : local
}
