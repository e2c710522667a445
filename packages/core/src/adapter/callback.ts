/** A Node-style callback as session stores take them. */
export type StoreCallback<T> = (err: unknown, value?: T) => void

/**
 * Run `fn` for a store method that takes an optional callback (express-session, @fastify/session) and also
 * returns a promise (like connect-redis >= 8.1). The callback runs on a fresh tick, so an exception it
 * throws surfaces as from any callback API; with a callback, the returned promise never rejects unhandled.
 */
export function callbackOrPromise<T>(callback: StoreCallback<T> | undefined, fn: () => Promise<T>): Promise<T> {
  let promise: Promise<T>
  try {
    promise = fn()
  } catch (error) {
    promise = Promise.reject(error)
  }
  if (!callback) return promise
  promise.then(
    (value) => process.nextTick(callback, null, value),
    (error) => process.nextTick(callback, error),
  )
  return promise.catch(() => undefined as T)
}
