/**
 * A copy of a string that shares no memory with the string or message it was cut from, for strings kept as
 * long as a session lives. A session id parsed out of a cookie is a slice of the cookie; and cbor-x's native string
 * extraction decodes each run of short ASCII strings as one string and hands out slices of it (V8 sliced
 * strings), so keeping one slice would keep the whole run, CBOR framing included, alive as long as the
 * session. V8 copies slices under 13 characters itself, and cbor-x decodes strings of 256 or more on
 * their own; only the range between needs a copy.
 */
export function detach(value: string): string {
  if (value.length < 13 || value.length >= 256) return value
  // Through a reused buffer: no allocation but the new string (three UTF-8 bytes per UTF-16 unit at most).
  const bytes = scratch.write(value, 0, 'utf8')
  return scratch.toString('utf8', 0, bytes)
}

const scratch = Buffer.allocUnsafe(3 * 256)

/**
 * A new flat copy of any string (whatever its length). Through UTF-8, which is exact for the strings kept
 * here: JSON.stringify escapes lone surrogates, and text decoded from UTF-8 has none.
 */
export function copyString(value: string): string {
  return Buffer.from(value, 'utf8').toString('utf8')
}
