import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNodes, stopNodes, type TestNode } from './support/nodes.js'

/**
 * express-session writes the headers before its store's `set` finishes, so only a
 * step that saves before `res.end` can hold a response until the change replicated. The end of the body is held
 * either way (express-session withholds its last byte), so this watches the headers: with saves slowed down,
 * sync mode must not send them before the save resolved; async mode sends them at once.
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

/** Time the headers arrived (the 'response' event), and the status. */
function headersAt(node: TestNode, path: string): Promise<{ at: number; status: number }> {
  const { port } = node.server.address() as AddressInfo
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
      const at = Date.now()
      res.resume()
      res.on('end', () => resolve({ at, status: res.statusCode ?? 0 }))
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
      it(`${path}: ${replication === 'sync' ? 'only after the save resolved' : 'before the save resolved'}`, async () => {
        const { at, status } = await headersAt(node, path)
        expect([200, 302]).toContain(status)
        if (replication === 'sync') expect(at).toBeGreaterThanOrEqual(timing.savedAt())
        else expect(at).toBeLessThan(timing.savedAt())
      })
    }
  })
}
