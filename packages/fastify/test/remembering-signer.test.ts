import { Signer } from '@fastify/cookie'
import { createSessionCluster, silentLogger } from '@session-cluster/core'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { clusterSession } from '../src/index.js'
import { RememberingSigner } from '../src/remembering-signer.js'
import { get, SECRET } from './support/nodes.js'

const OLD = `old ${SECRET}`

describe('RememberingSigner: the cookie signer that skips signing a verified id again', () => {
  it('signs exactly as @fastify/cookie does, before and after a verification', () => {
    const plain = new Signer(SECRET, 'sha256')
    const signer = new RememberingSigner(SECRET)
    expect(signer.sign('abc.node1')).toBe(plain.sign('abc.node1'))
    expect(signer.unsign(plain.sign('abc.node1'))).toEqual({ valid: true, renew: false, value: 'abc.node1' })
    expect(signer.sign('abc.node1')).toBe(plain.sign('abc.node1'))
  })

  it('never remembers a cookie that failed verification', () => {
    const plain = new Signer(SECRET, 'sha256')
    const signer = new RememberingSigner(SECRET)
    const forged = 'abc.node1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
    expect(signer.unsign(forged).valid).toBe(false)
    expect(signer.sign('abc.node1')).toBe(plain.sign('abc.node1'))
  })

  it('signs a cookie of a rotated secret with the current one (the renewal), not the old signature', () => {
    const signer = new RememberingSigner([SECRET, OLD])
    const oldCookie = new Signer(OLD, 'sha256').sign('abc.node1')
    expect(signer.unsign(oldCookie)).toEqual({ valid: true, renew: true, value: 'abc.node1' })
    expect(signer.sign('abc.node1')).toBe(new Signer(SECRET, 'sha256').sign('abc.node1'))
  })

  it('stays correct once it has forgotten (bounded)', () => {
    const plain = new Signer(SECRET, 'sha256')
    const signer = new RememberingSigner(SECRET)
    for (let i = 0; i < 5_000; i++) signer.unsign(plain.sign(`id${i}`))
    for (const i of [0, 4_095, 4_096, 4_999]) expect(signer.sign(`id${i}`)).toBe(plain.sign(`id${i}`))
  })

  it('in the plugin: a cookie signed by a rotated secret keeps its session and comes back signed by the current one', async () => {
    const cluster = createSessionCluster({ route: 'rot', port: 0, logger: silentLogger })
    const app = Fastify({ logger: false })
    await app.register(clusterSession, { secret: [SECRET, OLD], cluster })
    app.get('/count', async (request) => ({ n: (request.session.n = ((request.session.n as number) ?? 0) + 1) }))
    await app.ready()
    await cluster.whenReady()
    try {
      const node = { route: 'rot', app, cluster }
      const first = await get(node, '/count')
      const id = decodeURIComponent(first.cookie!.slice('sid='.length)).replace(/^s:/, '').replace(/\.[^.]*$/, '')
      const signedByOld = `sid=${encodeURIComponent(`s:${new Signer(OLD, 'sha256').sign(id)}`)}`
      const second = await get(node, '/count', signedByOld)
      expect(second.body).toEqual({ n: 2 })
      expect(second.cookie).toBe(first.cookie)
    } finally {
      await app.close()
      await cluster.stop()
    }
  })
})
