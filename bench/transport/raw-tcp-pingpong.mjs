// Floor for the transport's round-trip figures: bare node:net ping-pong of 1 KiB between two processes
// on loopback (no framing, no encryption, no library code).
//   node bench/transport/raw-tcp-pingpong.mjs [--round-trips 1000]
import { fork } from 'node:child_process'
import { connect, createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

const FRAME_BYTES = 1024
const flag = process.argv.indexOf('--round-trips')
const roundTrips = flag > 0 ? Number(process.argv[flag + 1]) : 1000

if (process.argv[2] === 'child') {
  const server = createServer((socket) => {
    socket.setNoDelay(true)
    socket.on('data', (chunk) => socket.write(chunk))
  })
  server.listen(0, '127.0.0.1', () => process.send(server.address().port))
  process.on('message', () => process.exit(0))
} else {
  const child = fork(fileURLToPath(import.meta.url), ['child'])
  const port = await new Promise((resolve) => child.once('message', resolve))
  const socket = connect({ host: '127.0.0.1', port, noDelay: true })
  await new Promise((resolve) => socket.once('connect', resolve))
  const payload = Buffer.alloc(FRAME_BYTES, 1)
  const samplesUs = []
  for (let i = 0; i < roundTrips + 100; i++) {
    const t0 = process.hrtime.bigint()
    await new Promise((resolve) => {
      let received = 0
      const onData = (chunk) => {
        received += chunk.length
        if (received < FRAME_BYTES) return
        socket.off('data', onData)
        resolve()
      }
      socket.on('data', onData)
      socket.write(payload)
    })
    if (i >= 100) samplesUs.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  samplesUs.sort((a, b) => a - b)
  const pct = (p) => samplesUs[Math.min(samplesUs.length - 1, Math.floor((p / 100) * samplesUs.length))]
  console.log(JSON.stringify({ rawP50Us: Math.round(pct(50)), rawP99Us: Math.round(pct(99)), roundTrips: samplesUs.length }))
  socket.destroy()
  child.send('exit')
}
