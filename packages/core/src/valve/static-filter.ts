import { InvalidParametersError } from '../errors.js'
import { describeValue } from '../option-checks.js'

/**
 * Tomcat's ReplicationValve filter: requests for static resources neither load nor replicate the session.
 * Matched against the URL path (query string ignored).
 */
export const DEFAULT_STATIC_EXTENSIONS = ['gif', 'js', 'jpeg', 'jpg', 'png', 'htm', 'html', 'css', 'txt', 'ico', 'svg', 'woff', 'woff2', 'map'] as const

export const DEFAULT_STATIC_FILTER = new RegExp(`\\.(?:${DEFAULT_STATIC_EXTENSIONS.join('|')})$`, 'i')

/** `false` turns filtering off; a RegExp is tested against the path; a function decides from the path. */
export type StaticFilterOption = RegExp | ((path: string) => boolean) | false

export type StaticFilter = (url: string) => boolean

export function createStaticFilter(option: StaticFilterOption | undefined = DEFAULT_STATIC_FILTER): StaticFilter {
  if (option === false) return () => false
  if (option instanceof RegExp) {
    // A global/sticky regex keeps lastIndex between tests and would skip matches: copy without those flags.
    const re = new RegExp(option.source, option.flags.replace(/[gy]/g, ''))
    return (url) => re.test(pathOf(url))
  }
  if (typeof option === 'function') return (url) => option(pathOf(url)) === true
  throw new InvalidParametersError(`staticFilter must be a RegExp, a function (path) => boolean, or false, got ${describeValue(option)}`)
}

function pathOf(url: string): string {
  const q = url.search(/[?#]/)
  return q === -1 ? url : url.slice(0, q)
}
