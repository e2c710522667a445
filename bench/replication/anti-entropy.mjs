// What anti-entropy costs between two nodes whose tables agree (the steady state): CPU time and bytes per round,
// for tables of several sizes. Two pairs run side by side over the same window: one with rounds every
// --interval ms, one with the default interval (30 s, so no periodic round in the window); the difference, over
// the rounds counted, is the cost of one round (heartbeats and timers cancel out).
//   pnpm build && node bench/replication/anti-entropy.mjs [--sessions=10000,100000] [--interval=200] [--window=10000]
import { args, eventually, fmt, printMachine, startNode, table } from './lib.mjs'

const opt = args({ sessions: '10000,100000', interval: 200, window: 10_000 })
printMachine()
const quiet = { heartbeatIntervalMs: 500, accessFlushIntervalMs: 600_000, expiryIntervalMs: 600_000, replication: 'sync' }

async function pair(sessions, antiEntropyIntervalMs) {
  const a = await startNode('nodeA', { ...quiet, antiEntropyIntervalMs })
  await a.call('fill', { count: sessions })
  // B joins: state transfer makes both tables equal, then only anti-entropy rounds and heartbeats run.
  const b = await startNode('nodeB', { ...quiet, antiEntropyIntervalMs, members: [`127.0.0.1:${a.port}`] })
  await eventually(async () => (await a.call('status')).members.length === 1 && (await b.call('status')).sessions === sessions, { timeoutMs: 120_000 })
  return [a, b]
}

async function snapshot(nodes) {
  let cpuMs = 0
  let bytes = 0
  let rounds = 0
  let repairs = 0
  for (const n of nodes) {
    const c = await n.call('counters')
    cpuMs += await n.call('cpu')
    bytes += c['transport.bytes.sent'] ?? 0
    rounds += c['anti-entropy.completed'] ?? 0
    repairs += c['anti-entropy.repairs'] ?? 0
  }
  return { cpuMs, bytes, rounds, repairs }
}

const rows = []
for (const sessions of String(opt.sessions).split(',').map(Number)) {
  const busy = await pair(sessions, opt.interval)
  const calm = await pair(sessions, 30_000)
  try {
    const [b0, c0] = [await snapshot(busy), await snapshot(calm)]
    await new Promise((r) => setTimeout(r, opt.window))
    const [b1, c1] = [await snapshot(busy), await snapshot(calm)]
    const rounds = b1.rounds - b0.rounds - (c1.rounds - c0.rounds)
    const cpuPerRound = (b1.cpuMs - b0.cpuMs - (c1.cpuMs - c0.cpuMs)) / rounds
    const bytesPerRound = (b1.bytes - b0.bytes - (c1.bytes - c0.bytes)) / rounds
    rows.push({
      sessions: sessions.toLocaleString('en'),
      rounds,
      repairs: b1.repairs - b0.repairs,
      'CPU ms / round (both nodes)': fmt(cpuPerRound, 2),
      'bytes / round (both ways)': Math.round(bytesPerRound).toLocaleString('en'),
      'CPU share at the 30 s default (3 nodes)': `${fmt((100 * cpuPerRound) / 30_000, 4)} %`,
    })
  } finally {
    for (const n of [...busy, ...calm]) n.kill('SIGKILL')
  }
}
table(rows)
