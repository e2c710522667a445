import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNodes, stopNodes, type TestNode } from './support/nodes.js'

/**
 * express-session writes the headers before its store's `set` finishes, so only a step that saves before
 * `res.end` can hold a response until the change replicated. The end of the body is held either way
 * (express-session withholds its last byte), so this watches the headers: with saves slowed down, neither mode
 * sends them before the save resolved. Sync's save waits for the members; async's returns once applied here (the
 * core's tests cover that), and saving first lets the answer carry the session's new version token.
 */
const SLOW_MS = 300

function slowDown(node: TestNode): { savedAt: () => number } {
  let savedAt = 0
  const save = node.cluster.save.bind(node.cluster)
  node.cluster.save = async (...args) => {
    await new Promise((resolve) => setTimeout(resolve, SLOW_MS))
    await save(...args)
    savedAt = Date.now()
  }
  return { savedAt: () => savedAt }
}

/** Time the headers arrived (the 'response' event), the status and the cookies set. */
function headersAt(node: TestNode, path: string): Promise<{ at: number; status: number; cookies: string[] }> {
  const { port } = node.server.address() as AddressInfo
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
      const at = Date.now()
      res.resume()
      res.on('end', () => resolve({ at, status: res.statusCode ?? 0, cookies: res.headers['set-cookie'] ?? [] }))
    })
    req.on('error', reject)
    req.end()
  })
}

for (const replication of ['sync', 'async'] as const) {
  describe(`clusterSession, ${replication}: when the headers leave`, () => {
    let node: TestNode
    let timing: { savedAt: () => number }
    beforeAll(async () => {
      ;[node] = (await startNodes({ count: 1, routes: [`only-${replication}`], cluster: { replication } })) as [TestNode]
      node.app.get('/login', (req, res) => {
        req.session.user = 'ann'
        res.redirect(302, '/home')
      })
      timing = slowDown(node)
    })
    afterAll(() => stopNodes([node]))

    for (const path of ['/attr?key=a&value=1', '/login']) {
      it(`${path}: only after the save resolved${replication === 'async' ? ', with the version token' : ''}`, async () => {
        const { at, status, cookies } = await headersAt(node, path)
        expect([200, 302]).toContain(status)
        expect(at).toBeGreaterThanOrEqual(timing.savedAt())
        const token = cookies.find((c) => /^[^=]+\.v=/.test(c))
        if (replication === 'async') expect(token).toMatch(/^[^=]+\.v=[A-Za-z0-9_-]+\.[0-9a-z]+\.[0-9a-z]+;/)
        else expect(token).toBeUndefined()
      })
    }
  })
}
