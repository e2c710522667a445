/**
 * The session cookie as express-session writes it, from either adapter. express-session URL-encodes its cookie
 * value (`s%3A<id>.<sig>`); cookie@2 (under @fastify/cookie 11) leaves `s:`, `+` and `/` as they are. Both parse
 * either form, but nginx's `map $cookie_sid` sees raw bytes, so both adapters send the encoded form.
 *
 * Returns `lines` (Set-Cookie values) with cookie `name`'s value encoded, or undefined when none needed it. A value
 * holding `%` was encoded already (a custom `encode`) and is left alone.
 */
export function encodeSessionCookie(lines: readonly string[], name: string): string[] | undefined {
  const prefix = `${name}=`
  let changed = false
  const encoded = lines.map((entry) => {
    if (!entry.startsWith(prefix)) return entry
    const end = entry.indexOf(';')
    const value = entry.slice(prefix.length, end === -1 ? undefined : end)
    if (value.includes('%')) return entry
    const safe = encodeURIComponent(value)
    if (safe === value) return entry
    changed = true
    return prefix + safe + (end === -1 ? '' : entry.slice(end))
  })
  return changed ? encoded : undefined
}
