import type { SessionCluster } from '../cluster/session-cluster.js'

// The async-mode version token travels in a cookie of its own next to the session cookie (`<name>.v`), so both
// adapters read and write it alike. Its value is `session/version-token.ts`'s text: cookie-safe as it is.

/** The token cookie that goes with session cookie `sessionCookieName`. */
export function tokenCookieName(sessionCookieName: string): string {
  return `${sessionCookieName}.v`
}

/** The token cookie's value in a Cookie header, or undefined. */
export function readTokenCookie(cookieHeader: string | undefined, tokenName: string): string | undefined {
  if (!cookieHeader) return undefined
  const prefix = `${tokenName}=`
  for (const part of cookieHeader.split(';')) {
    const trimmed = part.trimStart()
    if (trimmed.startsWith(prefix)) return trimmed.slice(prefix.length).trimEnd()
  }
  return undefined
}

/**
 * The token to send with a response (async mode): the session's version token when it differs from the one the
 * request carried, so a client that sends it back never reads older data than it has seen, on any node.
 */
export function versionTokenToSend(
  cluster: Pick<SessionCluster, 'versionToken'>,
  sessionId: string,
  cookieHeader: string | undefined,
  tokenName: string,
): string | undefined {
  const token = cluster.versionToken(sessionId)
  return token === undefined || token === readTokenCookie(cookieHeader, tokenName) ? undefined : token
}

/** The session cookie attributes the token cookie shares. */
export interface TokenCookieOptions {
  path?: string
  domain?: string
  httpOnly?: boolean
  secure?: boolean | 'auto'
  sameSite?: boolean | 'lax' | 'strict' | 'none'
}

/**
 * A Set-Cookie line for the token, with the session cookie's attributes and expiry, for an adapter that writes it
 * after its framework serialised its own cookies (Fastify). The value is cookie-safe as it is (`[A-Za-z0-9_.~-]`).
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
