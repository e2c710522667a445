import type { Address } from '../member.js'
import type { ClusterMessage } from './message.js'

/**
 * A small hook on messages passing through the channel (metrics, logging, filters, fault injection in tests).
 * Interceptors see messages only: membership questions never pass through them, so their order cannot change
 * who the members are (Tomcat's ChannelInterceptorBase chain does exactly that). Hooks must not block.
 * Returning `false` drops the message (counted as `channel.intercepted`).
 */
export interface Interceptor {
  readonly name: string
  onSend?(message: ClusterMessage, to: Address): boolean | undefined
  onReceive?(message: ClusterMessage, from: Address): boolean | undefined
}

/** Compose interceptors into one: each runs in order, and the first `false` stops the message. */
export function composeInterceptors(interceptors: readonly Interceptor[]): Required<Omit<Interceptor, 'name'>> {
  const senders = interceptors.filter((i) => i.onSend)
  const receivers = interceptors.filter((i) => i.onReceive)
  return {
    onSend: (message, to) => senders.every((i) => i.onSend!(message, to) !== false),
    onReceive: (message, from) => receivers.every((i) => i.onReceive!(message, from) !== false),
  }
}
