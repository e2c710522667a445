import { describe, expect, it } from 'vitest'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import { MAX_UNROUTED_ID_BYTES, sameSessionBase, sessionKeyOf } from '../src/valve/session-id.js'
import { clustersStoppedAfterEach } from './support/session-cluster.js'

// A bare store (express-session, @fastify/session) brings ids of its own shape; they have no route.
const cluster = clustersStoppedAfterEach()

// What express-session's and @fastify/session's default generators make: 24 random bytes in base64url.
const FRAMEWORK_ID = 'gd63JF9DXoP8iJIJWcQRHlenC-83Z_G8'

describe('session ids without a route', () => {
  it('are stored, replicated, listed, and destroyed under the id the framework chose', async () => {
    const { nodes } = await cluster(2)
    const [a, b] = nodes as [SessionCluster, SessionCluster]
    for (const id of [FRAMEWORK_ID, 'a', 'with.dots.and spaces', 'ünïcödé-✓']) {
      await a.save(id, { user: id })
      expect((await b.load(id))?.data).toEqual({ user: id })
    }
    expect(b.ids().sort()).toEqual([FRAMEWORK_ID, 'a', 'with.dots.and spaces', 'ünïcödé-✓'].sort())
    // bound to the node that created it (it expires it first), but no route to rebind to
    expect(b.meta(FRAMEWORK_ID)?.route).toBe('node1')
    expect(b.routeFor(FRAMEWORK_ID, 'always')).toBe(FRAMEWORK_ID)
    await b.destroy('a')
    expect(await a.load('a')).toBeUndefined()
  })

  it('never share a key with the random part of a routed id', async () => {
    const { nodes } = await cluster(1)
    const [a] = nodes as [SessionCluster]
    const routed = a.generateId()
    const base = routed.slice(0, routed.lastIndexOf('.'))
    await a.save(routed, { kind: 'routed' })
    // the random part alone is an id without a route: another session, not a way into the routed one
    expect(await a.load(base)).toBeUndefined()
    await a.save(base, { kind: 'unrouted' })
    expect((await a.load(routed))?.data).toEqual({ kind: 'routed' })
    expect((await a.load(base))?.data).toEqual({ kind: 'unrouted' })
    expect(sameSessionBase(base, routed)).toBe(false)
    expect(sessionKeyOf(base)?.key).not.toBe(sessionKeyOf(routed)?.key)
  })

  it('routed ids keep their key whatever the route; ids that cannot be keyed are refused', async () => {
    expect(sessionKeyOf('AAAAAAAAAAAAAAAAAAAAAAAA.node1')).toEqual({ key: 'AAAAAAAAAAAAAAAAAAAAAAAA', route: 'node1' })
    expect(sameSessionBase('AAAAAAAAAAAAAAAAAAAAAAAA.node1', 'AAAAAAAAAAAAAAAAAAAAAAAA.node2')).toBe(true)
    const { nodes } = await cluster(1)
    const [a] = nodes as [SessionCluster]
    const tooLong = 'x'.repeat(MAX_UNROUTED_ID_BYTES + 1)
    await expect(a.save(tooLong, {})).rejects.toMatchObject({ name: 'InvalidParametersError' })
    await expect(a.save('', {})).rejects.toMatchObject({ name: 'InvalidParametersError' })
    expect(await a.load(tooLong)).toBeUndefined()
    await a.save('x'.repeat(MAX_UNROUTED_ID_BYTES), { ok: true })
    expect((await a.load('x'.repeat(MAX_UNROUTED_ID_BYTES)))?.data).toEqual({ ok: true })
  })
})
