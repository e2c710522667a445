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
