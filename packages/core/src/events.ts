/**
 * A minimal typed event emitter. `on` returns the function that unsubscribes.
 * A listener that throws is reported to `onListenerError` (never swallowed, never breaks the emitter).
 */
// biome-ignore lint/suspicious/noExplicitAny: listener argument tuples are checked per event map
export type EventMap<E> = { [K in keyof E]: (...args: any[]) => void }

export class TypedEmitter<E extends EventMap<E>> {
  readonly #listeners = new Map<keyof E, Set<E[keyof E]>>()
  #onListenerError: (error: unknown, event: string) => void

  constructor(onListenerError?: (error: unknown, event: string) => void) {
    this.#onListenerError =
      onListenerError ??
      ((error, event) => {
        queueMicrotask(() => {
          throw new Error(`listener for "${event}" threw`, { cause: error })
        })
      })
  }

  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    let set = this.#listeners.get(event)
    if (!set) this.#listeners.set(event, (set = new Set()))
    set.add(listener)
    return () => this.off(event, listener)
  }

  once<K extends keyof E>(event: K, listener: E[K]): () => void {
    const wrapped = ((...args: Parameters<E[K]>) => {
      off()
      listener(...args)
    }) as E[K]
    const off = this.on(event, wrapped)
    return off
  }

  off<K extends keyof E>(event: K, listener: E[K]): void {
    this.#listeners.get(event)?.delete(listener)
  }

  /** Whether anyone listens: lets a hot path skip building an event nobody receives. */
  hasListeners(event: keyof E): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0
  }

  emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.#listeners.get(event)
    if (!set) return
    for (const listener of [...set]) {
      try {
        listener(...args)
      } catch (error) {
        this.#onListenerError(error, String(event))
      }
    }
  }

  listenerCount(event: keyof E): number {
    return this.#listeners.get(event)?.size ?? 0
  }

  removeAllListeners(): void {
    this.#listeners.clear()
  }
}
