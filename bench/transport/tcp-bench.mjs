// TCP transport benchmark: two processes on loopback, AES-256-GCM on, 1 KiB frames.
//   pnpm build && node bench/transport/tcp-bench.mjs [--seconds 3] [--round-trips 1000] [--plaintext 1]
// The parent sends; a forked child receives (throughput) and echoes (round trips). Then, over a second pair
// of transports, a Channel sends 1 KiB messages with `ack` delivery, one at a time: the round trip the
// replication's sync mode waits for (envelope, CBOR and the ack included).
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { distUrl } from '../replication/lib.mjs'
import { transportInternalsUrl } from './internals.mjs'

// SC_CORE_DIST=/path/to/dist/index.js measures another build of core (side by side comparisons; builds from before
// the package stopped exporting these pieces). Without it, the sources are bundled for this run.
const isChild = process.argv[2] === 'child'
const coreUrl = process.env.SC_CORE_DIST ? distUrl() : await transportInternalsUrl({ build: !isChild })
const { aesGcmProtector, Channel, plaintextProtector, tcpTransport } = await import(coreUrl)

const FRAME_BYTES = 1024
const THROUGHPUT = 0
const PING = 1
const secret = 'bench secret'
const clusterName = 'bench'
const args = Object.fromEntries(
  process.argv.slice(2).flatMap((arg, i, all) => (arg.startsWith('--') ? [[arg.slice(2), all[i + 1]]] : [])),
)
const seconds = Number(args.seconds ?? 3)
const roundTrips = Number(args['round-trips'] ?? 1000)

// --plaintext 1 isolates the transport's own cost from encryption (the child inherits it through the env).
if (args.plaintext) process.env.BENCH_PLAINTEXT = '1'
const encrypted = process.env.BENCH_PLAINTEXT !== '1'
const protector = () => (encrypted ? aesGcmProtector({ secret, clusterName }) : plaintextProtector())
const transport = () => tcpTransport({ port: 0, protector: protector() })
const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

if (process.argv[2] === 'child') await runChild()
else await runParent()

async function runChild() {
  const node = transport()
  let received = 0
  let expected = Number.POSITIVE_INFINITY
  node.onFrame((from, frame) => {
    if (frame[0] === PING) {
      node.send(from, frame)
      return
    }
    if (++received === expected) process.send({ type: 'received', count: received })
  })
  process.on('message', (message) => {
    if (message.type === 'expect') {
      expected = message.count
      if (received >= expected) process.send({ type: 'received', count: received })
    } else if (message.type === 'exit') {
      node.stop().then(() => process.exit(0))
    }
  })
  await node.start()
  const channel = new Channel({ transport: transport() })
  channel.handle('bench', () => {})
  await channel.start()
  process.send({ type: 'ready', address: node.address, channelAddress: channel.address })
}

async function runParent() {
  const child = fork(fileURLToPath(import.meta.url), ['child'], { stdio: 'inherit' })
  const messages = []
  const waiters = []
  child.on('message', (message) => {
    const waiter = waiters.findIndex((w) => w.type === message.type)
    if (waiter >= 0) waiters.splice(waiter, 1)[0].resolve(message)
    else messages.push(message)
  })
  const nextMessage = (type) =>
    new Promise((resolve) => {
      const queued = messages.findIndex((m) => m.type === type)
      if (queued >= 0) resolve(messages.splice(queued, 1)[0])
      else waiters.push({ type, resolve })
    })

  const node = transport()
  await node.start()
  const { address: peer, channelAddress } = await nextMessage('ready')

  // Throughput: keep the send queue fed for `seconds`, then wait until the child has every frame.
  const frame = Buffer.alloc(FRAME_BYTES, 7)
  frame[0] = THROUGHPUT
  let sent = 0
  let refused = 0
  const started = process.hrtime.bigint()
  const sendUntil = Date.now() + seconds * 1000
  while (Date.now() < sendUntil) {
    for (let i = 0; i < 512; i++) {
      if (node.send(peer, frame)) sent++
      else refused++
    }
    await nextTurn()
  }
  child.send({ type: 'expect', count: sent })
  await nextMessage('received')
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9
  const framesPerSecond = sent / elapsedS

  // Round trips at low load: one frame in flight at a time, echoed by the child.
  const ping = Buffer.alloc(FRAME_BYTES, 9)
  ping[0] = PING
  let pong
  node.onFrame(() => pong?.())
  const samplesUs = []
  for (let i = 0; i < roundTrips + 100; i++) {
    const t0 = process.hrtime.bigint()
    await new Promise((resolve) => {
      pong = resolve
      node.send(peer, ping)
    })
    if (i >= 100) samplesUs.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  samplesUs.sort((a, b) => a - b)
  const pct = (p) => samplesUs[Math.min(samplesUs.length - 1, Math.floor((p / 100) * samplesUs.length))]

  // Channel `ack` round trips: send, the child's handler runs, its ack comes back.
  const channel = new Channel({ transport: transport() })
  await channel.start()
  const message = { t: 'bench', p: Buffer.alloc(FRAME_BYTES - 32, 5) }
  const ackUs = []
  for (let i = 0; i < roundTrips + 100; i++) {
    const t0 = process.hrtime.bigint()
    const report = await channel.send(channelAddress, message, { delivery: 'ack' })
    if (report.failed.length > 0) throw report.failed[0].error
    if (i >= 100) ackUs.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  ackUs.sort((a, b) => a - b)
  const ackPct = (p) => ackUs[Math.min(ackUs.length - 1, Math.floor((p / 100) * ackUs.length))]
  await channel.stop()

  child.send({ type: 'exit' })
  await node.stop()

  const rows = [
    [`async throughput (1 KiB, ${encrypted ? 'aes-gcm' : 'plaintext'})`, `${Math.round(framesPerSecond).toLocaleString('en-US')} frames/s`, '>= 100,000 frames/s'],
    ['  frames / seconds / refused (queue full)', `${sent.toLocaleString('en-US')} / ${elapsedS.toFixed(2)} s / ${refused}`, ''],
    ['transport round trip p50', `${pct(50).toFixed(0)} us`, ''],
    ['transport round trip p99', `${pct(99).toFixed(0)} us`, ''],
    ['transport round trip max', `${samplesUs.at(-1).toFixed(0)} us`, ''],
    ['channel ack round trip p50', `${ackPct(50).toFixed(0)} us`, '<= 250 us'],
    ['channel ack round trip p99', `${ackPct(99).toFixed(0)} us`, '<= 1,000 us'],
  ]
  const width = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length)))
  for (const row of [['measure', 'result', 'target'], ...rows]) {
    console.log(row.map((cell, c) => cell.padEnd(width[c])).join('  |  '))
  }
  console.log(
    JSON.stringify({
      framesPerSecond: Math.round(framesPerSecond),
      p50Us: Math.round(pct(50)),
      p99Us: Math.round(pct(99)),
      ackP50Us: Math.round(ackPct(50)),
      ackP99Us: Math.round(ackPct(99)),
      roundTrips: samplesUs.length,
    }),
  )
}
