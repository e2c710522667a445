// A member that removed us (it stopped hearing us) and took us back follows our stream afresh, while we kept it and
// hold only what it had not acknowledged. It must be told where the stream continues, or it acknowledges nothing
// forever and every commit here waits for it in vain.
// biome-ignore-all lint/suspicious/noExplicitAny: status().strategy is untyped
import { expect, it } from 'vitest'
import { clustersStoppedAfterEach, dataOf } from './support/session-cluster.js'

const cluster = clustersStoppedAfterEach()

it('after a one-way cut long enough for the member to remove us, the stream catches up and commits succeed', async () => {
  const c = await cluster(2, { replication: 'sync', heartbeatIntervalMs: 200, suspectTimeoutMs: 1_200, verifyTimeoutMs: 400, ackTimeoutMs: 1_000 })
  const [a, b] = c.nodes as [any, any]
  const id = a.generateId()
  await c.run(a.save(id, { n: 0 }))
  await c.clock.advance(3_000)
  c.network.cut(a.local.address, b.local.address)
  // b stops hearing a and removes it; a still hears b and keeps its stream to b, with what b has not acknowledged.
  await c.clock.advance(5_000)
  expect(b.status().members.map((m: any) => m.route)).toEqual([])
  const during = a.save(id, { n: 1 }).catch(() => {})
  await c.clock.advance(111)
  c.network.restore(a.local.address, b.local.address)
  await c.clock.advance(3_000)
  await during
  const outcomes: string[] = []
  for (let n = 2; n < 5; n++) {
    outcomes.push(await c.run(a.save(id, { n })).then(() => 'ok', (error: Error) => error.name))
    await c.clock.advance(2_000)
  }
  expect(outcomes).toEqual(['ok', 'ok', 'ok'])
  const [stream] = a.status().strategy.streams
  expect(stream).toMatchObject({ included: true })
  expect(stream.acked).toBe(stream.sent)
  expect(await c.run(dataOf(b, id))).toEqual({ n: 4 })
})
