import { connect } from 'node:net'
import type { Address } from '../../member.js'
import { FrameReader } from '../../transport/tcp/frame-reader.js'
import { decodeGreeting, GREETING_MAX_BYTES } from '../../transport/tcp/greeting.js'

/**
 * Whether a session-cluster node listens at `host:port`: connect, read its greeting (a node greets every connection
 * before anything else), hang up. Resolves with the address the node advertises, or undefined when nothing
 * listens, something else answers, or nothing comes within `timeoutMs`. Never rejects.
 */
export function probeNode(host: string, port: number, timeoutMs: number): Promise<Address | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const reader = new FrameReader(GREETING_MAX_BYTES)
    const done = (found: Address | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(found)
    }
    const timer = setTimeout(() => done(undefined), timeoutMs)
    socket.on('error', () => done(undefined))
    socket.on('close', () => done(undefined))
    socket.on('data', (chunk: Buffer) => {
      try {
        const [first] = reader.push(chunk)
        if (!first) return
        const answer = decodeGreeting(first)
        done('greeting' in answer ? answer.greeting.address : undefined)
      } catch {
        done(undefined) // not one of ours
      }
    })
  })
}
