import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ManualClock } from '../src/clock/manual-clock.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { memorySessionClusters } from './support/session-cluster.js'

type Op =
  | { kind: 'set'; node: number; session: number; attr: string; value: number }
  | { kind: 'remove'; node: number; session: number; attr: string }
  | { kind: 'push'; node: number; session: number; value: number }
  | { kind: 'destroy'; node: number; session: number }

const node = fc.integer({ min: 0, max: 2 })
const session = fc.integer({ min: 0, max: 3 })
const attr = fc.constantFrom('a', 'b', 'c')
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('set' as const), node, session, attr, value: fc.integer({ min: 0, max: 99 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), node, session, attr }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('push' as const), node, session, value: fc.integer({ min: 0, max: 99 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('destroy' as const), node, session }) },
)

/** Advance the manual clock until `promise` settles (delayed frames need time to pass). */
async function drive<T>(clock: ManualClock, promise: Promise<T>): Promise<T> {
  let done = false
  const tracked = promise.finally(() => {
    done = true
  })
  await clock.advanceUntil(() => done, { stepMs: 5, maxMs: 60_000 })
  return tracked
}

async function apply(nodes: SessionCluster[], ids: string[], op: Op): Promise<void> {
  const target = nodes[op.node]!
  const id = ids[op.session]!
  if (op.kind === 'destroy') return target.destroy(id)
  const loaded = await target.load(id)
  const data = loaded ? loaded.data : {}
  if (op.kind === 'set') data[op.attr] = op.value
  if (op.kind === 'remove') delete data[op.attr]
  if (op.kind === 'push') ((data.list ??= []) as number[]).push(op.value)
  await target.save(id, data, loaded ? { loaded } : {})
}

async function snapshot(node: SessionCluster, ids: string[]) {
  return Promise.all(ids.map(async (id) => (await node.load(id))?.data ?? null))
}

const faults = { duplicateRate: 0.2, delayMs: [0, 40] as const, reorderRate: 0.3 }

describe('convergence under reordering, duplication and delay (fast-check)', () => {
  it('sequential sync writes: every replica equals the model, so no acknowledged write is lost', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 1_000_000 }), async (ops, seed) => {
        const c = memorySessionClusters({ seed, faults, replication: 'sync' })
        try {
          const nodes = await c.add(3)
          const ids = [0, 1, 2, 3].map(() => nodes[0]!.generateId())
          const model: Array<Record<string, unknown> | null> = ids.map(() => null)
          const dead = new Set<number>()
          for (const op of ops) {
            await drive(c.clock, apply(nodes, ids, op))
            // the model: destruction is final; anything else applies to the current map
            if (dead.has(op.session)) continue
            if (op.kind === 'destroy') {
              if (model[op.session] !== null) dead.add(op.session)
              model[op.session] = null
              continue
            }
            const m = (model[op.session] ??= {})
            if (op.kind === 'set') m[op.attr] = op.value
            if (op.kind === 'remove') delete m[op.attr]
            if (op.kind === 'push') ((m.list ??= []) as number[]).push(op.value)
          }
          await c.clock.advance(1_000) // duplicates and delayed copies land
          for (const n of nodes) expect(await snapshot(n, ids)).toEqual(model)
        } finally {
          await c.stopAll()
        }
      }),
      { numRuns: Number(process.env.RUNS ?? 25) },
    )
  }, 120_000)

  it('concurrent writes on all nodes (async): every replica ends identical', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        async (batches, seed) => {
          const c = memorySessionClusters({ seed, faults, replication: 'async' })
          try {
            const nodes = await c.add(3)
            const ids = [0, 1, 2, 3].map(() => nodes[0]!.generateId())
            for (const batch of batches) {
              // ops in one batch run concurrently, on different nodes, each against what it loaded
              await drive(c.clock, Promise.allSettled(batch.map((op) => apply(nodes, ids, op))))
            }
            await c.clock.advance(1_000)
            const [first, ...rest] = await Promise.all(nodes.map((n) => snapshot(n, ids)))
            for (const other of rest) expect(other).toEqual(first)
          } finally {
            await c.stopAll()
          }
        },
      ),
      { numRuns: Number(process.env.RUNS ?? 25) },
    )
  }, 120_000)
})
