import request from 'supertest'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { sessionCookie, startNodes, stopNodes, type TestNode } from './support/nodes.js'

let nodes: TestNode[]
beforeAll(async () => {
  nodes = await startNodes()
})
afterAll(() => stopNodes(nodes))

it('smoke', async () => {
  const [a, b] = nodes as [TestNode, TestNode]
  const r1 = await request(a.server).get('/cart?add=apple')
  expect(r1.status).toBe(200)
  const cookie = sessionCookie(r1)!
  const r2 = await request(b.server).get('/cart').set('Cookie', cookie)
  expect(r2.body.items).toEqual(['apple'])
})
