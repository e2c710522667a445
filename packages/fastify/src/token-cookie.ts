/** The cookie options of the plugin that the version token cookie shares with the session cookie. */
export interface TokenCookieOptions {
  path?: string
  domain?: string
  httpOnly?: boolean
  secure?: boolean | 'auto'
  sameSite?: boolean | 'lax' | 'strict' | 'none'
}

/**
 * A Set-Cookie line for the async version token, with the session cookie's attributes and expiry: it goes out in an
 * onSend hook that runs after @fastify/cookie serialised its own cookies, so it is written here. The value is
 * cookie-safe as it is (`[A-Za-z0-9_.~-]`).
 */
export function serializeTokenCookie(name: string, value: string, options: TokenCookieOptions, https: boolean, expires: Date | null | undefined): string {
  let line = `${name}=${value}; Path=${options.path ?? '/'}`
  if (options.domain) line += `; Domain=${options.domain}`
  if (expires) line += `; Expires=${expires.toUTCString()}`
  if (options.httpOnly ?? true) line += '; HttpOnly'
  if (options.secure === true || (options.secure === 'auto' && https) || (options.secure === undefined && https)) line += '; Secure'
  const sameSite = options.sameSite === true ? 'Strict' : typeof options.sameSite === 'string' ? options.sameSite[0]!.toUpperCase() + options.sameSite.slice(1) : undefined
  if (sameSite) line += `; SameSite=${sameSite}`
  return line
}
