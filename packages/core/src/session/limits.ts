/** Bounds on what a session may hold; checked on local writes and on everything a peer sends. */
export const MAX_SESSION_ID_LENGTH = 256
export const MAX_ATTRIBUTE_NAME_LENGTH = 256
export const MAX_NODE_ID_LENGTH = 128
export const MAX_ROUTE_LENGTH = 128
/** Attribute entries one delta may carry (a full session in state transfer included). */
export const MAX_ATTRIBUTES_PER_DELTA = 65_536

/** Base ids are the random part of a session id: base64/base64url/hex/uuid characters, never the `.route` dot. */
const SESSION_ID_PATTERN = /^[A-Za-z0-9_\-+/=]+$/

/** Names that would touch a prototype when copied onto a plain object (`data[name] = ...`). */
const FORBIDDEN_ATTRIBUTE_NAMES = new Set(['__proto__', 'constructor', 'prototype'])

/** Why `name` cannot be an attribute name, or undefined when it can. */
export function attributeNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `attribute name must be a string, got ${typeof name}`
  if (name.length === 0) return 'attribute name must not be empty'
  if (name.length > MAX_ATTRIBUTE_NAME_LENGTH) {
    return `attribute name longer than ${MAX_ATTRIBUTE_NAME_LENGTH} characters`
  }
  if (FORBIDDEN_ATTRIBUTE_NAMES.has(name)) return `attribute name "${name}" is reserved`
  return undefined
}

export function isValidSessionId(id: unknown): id is string {
  return typeof id === 'string' && id.length <= MAX_SESSION_ID_LENGTH && SESSION_ID_PATTERN.test(id)
}
