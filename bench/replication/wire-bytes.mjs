// Bytes on the wire to replicate a change of ONE small attribute of a 10 KiB session (sync mode, 2 nodes),
// from the transport counters (transport.bytes.sent: length prefix + sealed record, TCP payload; IP/TCP headers
// not included). Heartbeats run every second (a lone first node waits 3 heartbeats for peers, so they cannot be
// switched off); a sample in which any other frame was sent (a heartbeat) is discarded and repeated.
//   node bench/replication/wire-bytes.mjs [--changes=20]
import { args, eventually, machine, median, printMachine, startNode, table } from './lib.mjs'

const opt = args({ changes: 20 })
const SECRET = 'replication-bench-secret-0123456789'
printMachine()

const quiet = { heartbeatIntervalMs: 1_000, suspectTimeoutMs: 10_000, accessFlushIntervalMs: 600_000, expiryIntervalMs: 600_000, replication: 'sync' }
const session = {
  profile: 'p'.repeat(10_000), // a 10 KB string attribute
  counter: 1,
  user: { id: 42, name: 'Ada', roles: ['customer'] },
  theme: 'dark',
  lastPage: '/checkout',
}
const encoded = Object.entries(session).reduce((a, [k, v]) => a + k.length + JSON.stringify(v).length, 0)

async function measure(label, extra) {
  const a = await startNode('nodeA', { ...quiet, ...extra })
  const b = await startNode('nodeB', { ...quiet, ...extra, members: [`127.0.0.1:${a.port}`] })
  try {
    await eventually(async () => (await a.call('status')).members.length === 1 && (await b.call('status')).members.length === 1)
    await new Promise((r) => setTimeout(r, 100))
    const snap = async () => {
      const [ca, cb] = await Promise.all([a.call('counters'), b.call('counters')])
      return { aBytes: ca['transport.bytes.sent'] ?? 0, aFrames: ca['transport.frames.sent'] ?? 0, bBytes: cb['transport.bytes.sent'] ?? 0, bFrames: cb['transport.frames.sent'] ?? 0 }
    }
    const diff = (x, y) => ({ aBytes: y.aBytes - x.aBytes, aFrames: y.aFrames - x.aFrames, bBytes: y.bBytes - x.bBytes, bFrames: y.bFrames - x.bFrames })
    // one frame each way (the delta, its ack) or the sample caught a heartbeat: retry
    const clean = (d) => d.aFrames === 1 && d.bFrames === 1
    let create
    let id
    for (let tries = 0; !create || !clean(create); tries++) {
      if (tries > 20) throw new Error('could not get a clean sample')
      const s0 = await snap()
      id = await a.call('put', { data: session })
      create = diff(s0, await snap())
    }
    const changes = []
    let counter = 1
    let discarded = 0
    while (changes.length < opt.changes) {
      const s0 = await snap()
      await a.call('update', { id, set: { counter: ++counter } })
      const d = diff(s0, await snap())
      if (clean(d)) changes.push(d)
      else discarded++
    }
    const loaded = (await b.call('load', { ids: [id] }))[0]
    if (loaded?.counter !== counter) throw new Error(`replica has counter ${loaded?.counter}, expected ${counter}`)
    const m = (k) => median(changes.map((c) => c[k]))
    return {
      label,
      create,
      discarded,
      change: { aBytes: m('aBytes'), aFrames: m('aFrames'), bBytes: m('bBytes'), bFrames: m('bFrames'), min: Math.min(...changes.map((c) => c.aBytes)), max: Math.max(...changes.map((c) => c.aBytes)) },
    }
  } finally {
    await a.kill()
    await b.kill()
  }
}

const results = [await measure('AES-GCM', { secret: SECRET }), await measure('plaintext', {})]
console.log(`session: ${Object.keys(session).length} attributes, ${encoded} bytes encoded (names + JSON); change: counter n -> n+1, ${opt.changes} changes (median)`)
console.log('target: < 200 bytes on the wire (sender -> replica) for the one-attribute change\n')
table(
  results.flatMap((r) => [
    { mode: r.label, what: 'one-attribute change', 'A->B bytes': r.change.aBytes, 'A->B frames': r.change.aFrames, 'B->A ack bytes': r.change.bBytes, 'round trip bytes': r.change.aBytes + r.change.bBytes, 'range A->B': `${r.change.min}-${r.change.max}` },
    { mode: r.label, what: 'full create (10 KiB)', 'A->B bytes': r.create.aBytes, 'A->B frames': r.create.aFrames, 'B->A ack bytes': r.create.bBytes, 'round trip bytes': r.create.aBytes + r.create.bBytes, 'range A->B': '' },
  ]),
)
console.log(JSON.stringify({ bench: 'wire-bytes', machine: machine(), options: opt, results }))
