import { describe, expect, it } from 'vitest'
import { ManualClock } from '../src/clock/manual-clock.js'
import { createSessionCluster } from '../src/cluster/create-session-cluster.js'
import { peerNamingLogger, rateLimitedLogger } from '../src/log-hygiene.js'
import type { Logger } from '../src/logger.js'
import { pinoLogger } from '../src/pino-logger.js'
import { memoryTransport } from '../src/transport/memory/memory-transport.js'
import { MemoryNetwork } from '../src/transport/memory/memory-network.js'

type Line = { level: string; msg: string; fields: Record<string, unknown> | undefined }

function recorder(): { lines: Line[]; logger: Logger } {
  const lines: Line[] = []
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields })
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } }
}

describe('rate-limited logging', () => {
  it('writes a repeated line once per interval, then once more with how many times it repeated', async () => {
    const clock = new ManualClock()
    const { lines, logger } = recorder()
    const log = rateLimitedLogger(logger, clock, 10_000)
    for (let i = 0; i < 13; i++) {
      log.warn('cannot connect to peer', { peer: '10.0.0.2:4000', error: `attempt ${i}` })
      await clock.advance(500) // a reconnect every 500 ms
    }
    // 13 attempts in 6.5 s: the first line at once, the other 12 counted.
    expect(lines).toEqual([{ level: 'warn', msg: 'cannot connect to peer', fields: { peer: '10.0.0.2:4000', error: 'attempt 0' } }])
    await clock.advance(3_500) // the interval ends: the count, with the last occurrence's fields
    expect(lines[1]).toEqual({ level: 'warn', msg: 'cannot connect to peer (repeated 12 times)', fields: { peer: '10.0.0.2:4000', error: 'attempt 12' } })
    // Quiet since: the next one is written at once.
    log.warn('cannot connect to peer', { peer: '10.0.0.2:4000' })
    expect(lines).toHaveLength(3)
  })

  it('tells lines about different peers, levels and messages apart, and leaves debug alone', async () => {
    const clock = new ManualClock()
    const { lines, logger } = recorder()
    const log = rateLimitedLogger(logger, clock, 10_000)
    log.warn('member suspected', { address: '10.0.0.2:4000' })
    log.warn('member suspected', { address: '10.0.0.3:4000' })
    log.error('member suspected', { address: '10.0.0.2:4000' })
    log.warn('member suspected', { address: '10.0.0.2:4000' })
    log.debug('tick')
    log.debug('tick')
    expect(lines.map((l) => `${l.level} ${l.fields?.address ?? ''}`)).toEqual([
      'warn 10.0.0.2:4000',
      'warn 10.0.0.3:4000',
      'error 10.0.0.2:4000',
      'debug ',
      'debug ',
    ])
    await clock.advance(10_000)
    expect(lines.at(-1)).toMatchObject({ msg: 'member suspected (repeated 1 time)', fields: { address: '10.0.0.2:4000' } })
  })

  it('names the peer by its route next to its address', () => {
    const { lines, logger } = recorder()
    const log = peerNamingLogger(logger, (address) => (address === '10.0.0.2:4000' ? 'node2' : undefined))
    log.warn('connection to peer dropped', { peer: '10.0.0.2:4000' })
    log.warn('message from peer rejected', { from: '10.0.0.9:4000' })
    expect(lines[0]!.fields).toEqual({ peer: '10.0.0.2:4000', peerRoute: 'node2' })
    expect(lines[1]!.fields).toEqual({ from: '10.0.0.9:4000' })
  })

  it('is silent by default, and a cluster node names its peers by route in its own log', async () => {
    const clock = new ManualClock()
    const network = new MemoryNetwork({ clock })
    const { lines, logger } = recorder()
    const nodes = [0, 1].map((i) =>
      createSessionCluster({
        route: `node${i + 1}`,
        transport: memoryTransport({ network, port: 7100 + i }),
        members: ['127.0.0.1:7100', '127.0.0.1:7101'],
        clock,
        ...(i === 0 ? { logger } : {}), // node2 logs nowhere: nothing of it may show up here
      }),
    )
    const started = Promise.all(nodes.map((n) => n.start()))
    await clock.advanceUntil(() => nodes.every((n) => n.ready), { stepMs: 100, maxMs: 60_000 })
    await started
    await nodes[1]!.stop()
    await clock.advanceUntil(() => nodes[0]!.status().members.length === 0, { stepMs: 100, maxMs: 60_000 })
    await nodes[0]!.stop()
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.every((l) => l.fields?.node === 'node1')).toBe(true)
    const aboutPeer = lines.filter((l) => l.fields?.address === '127.0.0.1:7101' || l.fields?.peer === '127.0.0.1:7101')
    expect(aboutPeer.length).toBeGreaterThan(0)
    expect(aboutPeer.some((l) => l.fields?.peerRoute === 'node2')).toBe(true)
  })

  it('pinoLogger passes fields first and an error as pino`s err', () => {
    const calls: unknown[][] = []
    const pino = { debug: () => {}, info: (...a: unknown[]) => calls.push(a), warn: (...a: unknown[]) => calls.push(a), error: () => {} }
    const log = pinoLogger(pino)
    const error = new Error('boom')
    log.warn('peer failed', { peer: 'x:1', error })
    log.info('started')
    expect(calls).toEqual([[{ peer: 'x:1', err: error }, 'peer failed'], [{}, 'started']])
  })
})
