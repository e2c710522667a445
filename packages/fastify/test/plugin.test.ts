import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { get, idOf, sessionMessagesSent, signedCookie, startNodes, stopNodes, type TestNode, waitFor } from './support/nodes.js'

async function newSession(node: TestNode, item = 'apple'): Promise<string> {
  const r = await get(node, `/cart?add=${item}`)
  expect(r.status).toBe(200)
  expect(r.cookie).toBeDefined()
  return r.cookie!
}

const deltasSent = (n: TestNode) => n.cluster.status().counters['channel.sent.rd'] ?? 0

describe('clusterSession (Fastify): three nodes, sync replication', () => {
  let nodes: TestNode[]
  let a: TestNode
  let b: TestNode
  let c: TestNode
  beforeAll(async () => {
    nodes = await startNodes()
    ;[a, b, c] = nodes as [TestNode, TestNode, TestNode]
  })
  afterAll(() => stopNodes(nodes))

  it('the cookie is sid=s%3A<random>.<route>.<sig>, exactly what express-session signs', async () => {
    const cookie = await newSession(a)
    const id = idOf(cookie)
    expect(id).toMatch(/^[A-Za-z0-9_-]{32}\.nodeA$/)
    expect(cookie).toBe(signedCookie(id))
  })

  it('a session created on A is read on B and C; an in-place push on B is seen on A', async () => {
    const cookie = await newSession(a)
    const id = idOf(cookie)
    for (const node of [b, c]) {
      const r = await get(node, '/cart', cookie)
      expect(r.body).toMatchObject({ node: node.route, sessionId: id, items: ['apple'], originalId: null })
      // rolling (the default): the same cookie is re-sent, never a new id
      if (r.cookie) expect(idOf(r.cookie)).toBe(id)
    }
    expect((await get(b, '/cart?add=pear', cookie)).status).toBe(200)
    expect((await get(a, '/cart', cookie)).body.items).toEqual(['apple', 'pear'])
    expect((await get(c, '/cart', cookie)).body.items).toEqual(['apple', 'pear'])
  })

  it('concurrent requests on A and B changing different attributes both survive, on every node', async () => {
    const cookie = await newSession(a)
    for (let round = 0; round < 5; round++) {
      await Promise.all([get(a, `/attr?key=fromA&value=a${round}`, cookie), get(b, `/attr?key=fromB&value=b${round}`, cookie)])
      for (const node of nodes) {
        const r = await get(node, '/attr', cookie)
        expect(r.body.attrs).toMatchObject({ fromA: `a${round}`, fromB: `b${round}`, items: ['apple'] })
      }
    }
  })

  it('concurrent requests on ONE node changing different attributes both survive', async () => {
    const cookie = await newSession(a)
    await Promise.all(Array.from({ length: 10 }, (_, i) => get(b, `/attr?key=k${i}&value=v${i}`, cookie)))
    const r = await get(c, '/attr', cookie)
    for (let i = 0; i < 10; i++) expect(r.body.attrs[`k${i}`]).toBe(`v${i}`)
  })

  it('sync mode: a write followed at once by a read on another node always sees the write (50 times)', async () => {
    const cookie = await newSession(a, 'i0')
    for (let i = 1; i <= 50; i++) {
      const writer = nodes[i % 3]!
      const reader = nodes[(i + 1) % 3]!
      expect((await get(writer, `/cart?add=i${i}`, cookie)).status).toBe(200)
      const r = await get(reader, '/cart', cookie)
      expect(r.body.items).toHaveLength(i + 1)
      expect(r.body.items[i]).toBe(`i${i}`)
    }
  })

  it('an unchanged session (rolling: set on every request) replicates nothing, yet records the access', async () => {
    const cookie = await newSession(a)
    const id = idOf(cookie)
    await new Promise((resolve) => setTimeout(resolve, 20))
    const before = nodes.map(deltasSent)
    const accessed = a.cluster.meta(id)!.lastAccessedAt
    for (let i = 0; i < 10; i++) {
      const r = await get(nodes[i % 3]!, '/cart', cookie)
      expect(r.cookie).toBe(cookie) // rolling re-sends the cookie
    }
    expect(nodes.map(deltasSent)).toEqual(before)
    expect(a.cluster.meta(id)!.lastAccessedAt).toBeGreaterThan(accessed)
  })

  it('static paths neither create nor load a session and send no cluster message', async () => {
    const cookie = await newSession(a)
    const id = idOf(cookie)
    await new Promise((resolve) => setTimeout(resolve, 250)) // let coalesced access flushes settle
    const sizes = nodes.map((n) => n.cluster.size)
    const before = nodes.map((n) => sessionMessagesSent(n.cluster))
    const accessedOnB = b.cluster.meta(id)?.lastAccessedAt
    for (const path of ['/static/app.js', '/static/logo.PNG', '/static/style.css?v=3', '/static/font.woff2']) {
      for (const cookieHeader of [undefined, cookie]) {
        const r = await get(b, path, cookieHeader)
        expect(r.status).toBe(200)
        expect(r.text).toContain('session: none')
        expect(r.cookie).toBeUndefined()
        expect(r.res.headers['set-cookie']).toBeUndefined()
      }
    }
    expect(nodes.map((n) => n.cluster.size)).toEqual(sizes)
    expect(nodes.map((n) => sessionMessagesSent(n.cluster))).toEqual(before)
    expect(b.cluster.meta(id)?.lastAccessedAt).toBe(accessedOnB)
    // and a non-static path with the same cookie still finds the session
    expect((await get(b, '/cart', cookie)).body).toMatchObject({ sessionId: id, items: ['apple'] })
  })

  it('tampered signature, malformed id, unknown id or route, oversized cookie: a fresh session, existing ones untouched', async () => {
    const cookie = await newSession(a, 'keep')
    const id = idOf(cookie)
    const base = id.slice(0, id.lastIndexOf('.'))
    const value = decodeURIComponent(cookie.slice(4))
    const tampered = `sid=${encodeURIComponent(value.slice(0, -1) + (value.endsWith('A') ? 'B' : 'A'))}`
    const hostile = [
      tampered,
      `sid=${encodeURIComponent(value.slice(2))}`, // no s: prefix
      signedCookie(id, 'another secret, also long enough to sign'),
      signedCookie('not-a-valid-id'),
      // an id we never issued, with a route that never existed (a known random part resolves whatever its
      // route: the signature covers the route, and a route that lost a concurrent rebind must still work)
      signedCookie(`${base.slice(0, -4)}QQQQ.nodeZ`),
      signedCookie(`${base}`),
      signedCookie(`../../${base}.nodeA`),
      `sid=${'x'.repeat(3 * 1024)}`,
      signedCookie(`${'y'.repeat(3 * 1024)}.nodeA`),
      'sid=%E0%A4%A',
    ]
    for (const bad of hostile) {
      const r = await get(b, '/attr?key=fresh&value=1', bad)
      expect(r.status).toBe(200)
      expect(r.body.sessionId).not.toBe(id)
      expect(r.body.sessionId).toMatch(/^[A-Za-z0-9_-]{32}\.nodeB$/)
      expect(r.body.attrs).toEqual({ fresh: '1' })
      expect(idOf(r.cookie!)).toBe(r.body.sessionId)
    }
    for (const node of nodes) {
      const r = await get(node, '/attr', cookie)
      expect(r.body).toMatchObject({ sessionId: id, attrs: { items: ['keep'] } })
    }
  })

  it('regenerate on one node is seen on the others: old id gone, new id readable', async () => {
    const cookie = await newSession(a, 'before')
    const r = await get(b, '/regenerate', cookie)
    expect(r.status).toBe(200)
    expect(r.cookie).toBeDefined()
    const renewed = r.cookie!
    expect(idOf(renewed)).not.toBe(idOf(cookie))
    expect(idOf(renewed)).toMatch(/\.nodeB$/)
    expect((await get(c, '/cart', renewed)).body.sessionId).toBe(idOf(renewed))
    for (const node of [a, c]) {
      const old = await get(node, '/cart', cookie)
      expect(old.body.items).toEqual([])
      expect(old.body.sessionId).not.toBe(idOf(cookie))
    }
  })

  it('destroy on one node is seen on the others', async () => {
    const cookie = await newSession(a, 'gone')
    const r = await get(c, '/destroy', cookie)
    expect(r.body).toEqual({ node: 'nodeC', destroyed: true })
    for (const node of nodes) {
      const after = await get(node, '/cart', cookie)
      expect(after.body.items).toEqual([])
      expect(after.body.sessionId).not.toBe(idOf(cookie))
    }
  })

  it('reload reads the replicated state', async () => {
    const cookie = await newSession(a, 'r1')
    await get(b, '/cart?add=r2', cookie)
    expect((await get(c, '/reload', cookie)).body.items).toEqual(['r1', 'r2'])
  })

  it('a value that cannot be stored is an error response, not a crash; the session keeps its data', async () => {
    const cookie = await newSession(a, 'safe')
    const r = await get(a, '/bigint', cookie)
    expect(r.status).toBe(500)
    expect(r.body.error).toBe('UnserializableValueError')
    expect((await get(b, '/cart', cookie)).body).toMatchObject({ sessionId: idOf(cookie), items: ['safe'] })
  })

  it('a request that does not touch the session creates none (saveUninitialized false)', async () => {
    const sizes = nodes.map((n) => n.cluster.size)
    const r = await get(a, '/cart')
    expect(r.cookie).toBeUndefined()
    expect(nodes.map((n) => n.cluster.size)).toEqual(sizes)
  })

  it('over real HTTP (listen on port 0 + fetch): create on A, read and change on B and C', async () => {
    const urls = await Promise.all(nodes.map((n) => n.app.listen({ port: 0, host: '127.0.0.1' })))
    const fetchCart = async (i: number, query = '', cookie?: string) => {
      const res = await fetch(`${urls[i]}/cart${query}`, { headers: cookie ? { cookie } : {} })
      return { res, body: (await res.json()) as { sessionId: string; items: string[] }, cookie: res.headers.getSetCookie().at(-1)?.split(';')[0] }
    }
    const created = await fetchCart(0, '?add=http')
    expect(created.res.status).toBe(200)
    const cookie = created.cookie!
    expect(cookie).toBe(signedCookie(created.body.sessionId))
    expect(created.res.headers.getSetCookie()).toHaveLength(1)
    const setCookie = created.res.headers.getSetCookie()[0]!
    expect(setCookie).toMatch(/HttpOnly/i)
    expect(setCookie).not.toMatch(/;\s*Secure/i) // secure: 'auto' over plain HTTP
    await fetchCart(1, '?add=more', cookie)
    expect((await fetchCart(2, '', cookie)).body.items).toEqual(['http', 'more'])
  })
})

describe('clusterSession (Fastify): failover rebinding', () => {
  let nodes: TestNode[]
  beforeAll(async () => {
    nodes = await startNodes()
  })
  afterAll(() => stopNodes(nodes))

  it('keeps the cookie while the owner lives, rebinds to the serving node once it is gone, data intact everywhere', async () => {
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode]
    const cookie = await newSession(a, 'cart-item')
    await get(a, '/attr?key=user&value=ada', cookie)
    const id = idOf(cookie)
    const base = id.slice(0, id.lastIndexOf('.'))

    // Round-robin sent the request elsewhere while A lives: same id, no rebind.
    for (const node of [b, c]) {
      const r = await get(node, '/cart', cookie)
      expect(r.body).toMatchObject({ sessionId: id, items: ['cart-item'], originalId: null })
      if (r.cookie) expect(idOf(r.cookie)).toBe(id)
    }

    await a.app.close()
    await waitFor(() => !b.cluster.isRouteLive('nodeA') && !c.cluster.isRouteLive('nodeA'))

    const destroyedBefore = b.cluster.status().counters['channel.sent.rd'] ?? 0
    const r = await get(b, '/cart', cookie)
    expect(r.status).toBe(200)
    expect(r.cookie).toBeDefined()
    const rebound = r.cookie!
    const newId = idOf(rebound)
    expect(newId).toBe(`${base}.nodeB`)
    expect(rebound).toBe(signedCookie(newId))
    expect(r.body).toMatchObject({ sessionId: newId, originalId: id, items: ['cart-item'], attrs: { user: 'ada' } })
    expect(b.cluster.status().counters['channel.sent.rd'] ?? 0).toBeGreaterThan(destroyedBefore)

    // The data survived the regenerate on every live node, under the new id (the old id's destroy was skipped).
    for (const node of [b, c]) {
      expect(node.cluster.meta(newId)?.route).toBe('nodeB')
      const got = await get(node, '/attr', rebound)
      expect(got.body).toMatchObject({ sessionId: newId, attrs: { items: ['cart-item'], user: 'ada' } })
      if (got.cookie) expect(idOf(got.cookie)).toBe(newId)
    }
    // C was not rebound again: B (the new route) lives.
    const onC = await get(c, '/cart?add=more', rebound)
    expect(onC.body).toMatchObject({ sessionId: newId, originalId: null })
    expect((await get(b, '/cart', rebound)).body.items).toEqual(['cart-item', 'more'])
    // A request still carrying the old route, within the grace period, is rebound to the current route.
    const late = await get(c, '/cart', cookie)
    expect(late.body).toMatchObject({ sessionId: newId, originalId: id, items: ['cart-item', 'more'] })
  })
})
