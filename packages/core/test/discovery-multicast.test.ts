import { createSocket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { createSessionCluster, type SessionCluster, silentLogger } from '../src/index.js'
import { deriveClusterKey } from '../src/crypto/keys.js'
import { announcementKey, decodeAnnouncement, encodeAnnouncement } from '../src/membership/multicast/announcement.js'
import { eventually } from './support/processes.js'

// Multicast discovery on loopback: real UDP sockets on a group of their own (a random 239.255.x.y and port, so other
// tests and machines' traffic stay out), announcing on 127.0.0.1 with IP_MULTICAST_LOOP.
const SECRET = 'discovery-multicast-test-secret-0123456789'
const group = `239.255.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`
const groupPort = 40_000 + Math.floor(Math.random() * 20_000)

const nodes: SessionCluster[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

function node(route: string, { secret = SECRET, clusterName = 'shop' } = {}): SessionCluster {
  const n = createSessionCluster({
    route,
    port: 0,
    secret,
    clusterName,
    discovery: { kind: 'multicast', address: group, port: groupPort, interface: '127.0.0.1', frequencyMs: 100, dropTimeMs: 600 },
    heartbeatIntervalMs: 100,
    suspectTimeoutMs: 1_000,
    verifyTimeoutMs: 300,
    logger: silentLogger,
  })
  nodes.push(n)
  return n
}

const routes = (n: SessionCluster) =>
  n
    .status()
    .members.map((m) => m.route)
    .sort()
    .join()

describe('multicast discovery', () => {
  it('three nodes find each other with no member list; another cluster name and a wrong secret on the group are kept out', async () => {
    const [a, b, c] = [node('a'), node('b'), node('c')]
    const stranger = node('other', { clusterName: 'another-shop' })
    const forger = node('forger', { secret: 'not-the-cluster-secret-0123456789abcdef' })
    await Promise.all([a, b, c, stranger, forger].map((n) => n.start()))
    expect(await eventually(() => routes(a) === 'b,c' && routes(b) === 'a,c' && routes(c) === 'a,b')).toBe(true)
    const counters = () => a.status().counters
    expect(await eventually(() => (counters()['discovery.multicast.other-cluster'] ?? 0) > 0 && (counters()['discovery.multicast.rejected'] ?? 0) > 0)).toBe(true)
    expect(routes(stranger)).toBe('')
    expect(routes(forger)).toBe('')
    expect(routes(a)).toBe('b,c')

    const id = a.generateId()
    await a.save(id, { cart: ['apple'] })
    expect((await c.load(id))?.data).toEqual({ cart: ['apple'] })
  })

  it('a node that stops is removed, and a new one is found without configuring anything', async () => {
    const [a, b] = [node('a'), node('b')]
    await Promise.all([a.start(), b.start()])
    expect(await eventually(() => routes(a) === 'b' && routes(b) === 'a')).toBe(true)
    await b.stop()
    nodes.splice(nodes.indexOf(b), 1)
    expect(await eventually(() => routes(a) === '')).toBe(true)
    const c = node('c')
    await c.start()
    expect(await eventually(() => routes(a) === 'c' && routes(c) === 'a')).toBe(true)
  })

  it('refuses to start on an interface without multicast, with a named error', async () => {
    const n = createSessionCluster({
      route: 'x',
      port: 0,
      discovery: { kind: 'multicast', address: group, port: groupPort, interface: '10.255.255.254' },
      logger: silentLogger,
    })
    await expect(n.start()).rejects.toMatchObject({ name: 'DiscoveryUnavailableError', message: expect.stringMatching(/no multicast/) })
    await n.stop()
  })

  it('signs announcements: a tampered, a foreign-cluster and a wrong-key announcement are told apart (real UDP datagram)', async () => {
    const key = announcementKey(deriveClusterKey(SECRET, 'shop'))
    const announcement = { clusterName: 'shop', id: 'abcdefgh12345678', route: 'a', address: { host: '127.0.0.1', port: 4000 } }
    // Through a real socket: what arrives is what was signed.
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    const received = new Promise<Buffer>((resolve) => socket.once('message', resolve))
    socket.send(encodeAnnouncement(announcement, key), socket.address().port, '127.0.0.1')
    const datagram = await received
    socket.close()
    expect(decodeAnnouncement(datagram, 'shop', [key])).toEqual({ kind: 'member', announcement })
    const tampered = Buffer.from(datagram)
    tampered[tampered.length - 40]! ^= 1 // inside the signed address
    expect(decodeAnnouncement(tampered, 'shop', [key]).kind).toBe('unauthenticated')
    expect(decodeAnnouncement(datagram, 'shop', [announcementKey(deriveClusterKey('another-secret-0123456789abcdef', 'shop'))]).kind).toBe('unauthenticated')
    expect(decodeAnnouncement(datagram, 'another-shop', [key])).toEqual({ kind: 'other-cluster', clusterName: 'shop' })
    expect(() => decodeAnnouncement(Buffer.from('hello'), 'shop', [key])).toThrow(/not a session-cluster announcement/)
  })
})
