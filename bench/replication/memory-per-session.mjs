// Heap per session in one process: N realistic (~1 KiB) sessions saved through createSessionCluster (a lone node),
// heapUsed after gc per session divided by the session's encoded size (sum of attribute-name + JSON lengths).
// For comparison, in the same run: express-session's MemoryStore layout (a Map of sid -> JSON.stringify(session)).
// Each run is a fresh child process with --expose-gc; medians of the runs.
//   node bench/replication/memory-per-session.mjs [--sessions=50000] [--runs=3]
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { args, distUrl, encodedSize, fmt, machine, median, printMachine, realisticSession, table } from './lib.mjs'

const opt = args({ sessions: 50_000, runs: 3, child: false })

async function measureInChild() {
  const { createSessionCluster, silentLogger } = await import(distUrl())
  const gc = () => {
    globalThis.gc()
    globalThis.gc()
  }
  const n = opt.sessions
  let encoded = 0
  for (let i = 0; i < n; i++) encoded += encodedSize(realisticSession(i))
  const encodedPerSession = encoded / n

  const cluster = createSessionCluster({ route: 'mem', host: '127.0.0.1', port: 0, logger: silentLogger })
  await cluster.start()
  gc()
  const before = process.memoryUsage().heapUsed
  const ids = []
  for (let i = 0; i < n; i++) {
    const id = cluster.generateId()
    ids.push(id)
    await cluster.save(id, realisticSession(i))
  }
  gc()
  // the ids array is held by the benchmark, not the cluster: subtract it by measuring without it
  const withIds = process.memoryUsage().heapUsed
  const sample = ids[n - 1]
  ids.length = 0
  gc()
  const after = process.memoryUsage().heapUsed
  if (cluster.size !== n || !(await cluster.load(sample))) throw new Error('sessions missing')
  const clusterPerSession = (after - before) / n
  await cluster.stop()

  // express-session MemoryStore: this.sessions[sid] = JSON.stringify(session) (a Map here; same strings).
  gc()
  const before2 = process.memoryUsage().heapUsed
  const store = new Map()
  for (let i = 0; i < n; i++) {
    // sid like uid-safe(24): 32 base64url chars; the session JSON carries express-session's cookie object.
    const sid = `${i.toString(36).padStart(8, '0')}${'x'.repeat(24)}`
    store.set(sid, JSON.stringify({ cookie: { originalMaxAge: 86400000, expires: '2026-11-23T03:00:00.000Z', httpOnly: true, path: '/' }, ...realisticSession(i) }))
  }
  gc()
  const after2 = process.memoryUsage().heapUsed
  const storeJson = [...store.values()].reduce((a, s) => a + s.length, 0) / n
  const storePerSession = (after2 - before2) / n
  void withIds
  return { encodedPerSession, clusterPerSession, storePerSession, storeJsonPerSession: storeJson, sessions: n }
}

if (opt.child) {
  process.send(await measureInChild())
  process.exit(0)
}

printMachine()
console.log(`memory per session: ${opt.sessions} realistic sessions, ${opt.runs} runs (fresh process each, --expose-gc)`)
const runs = []
for (let r = 1; r <= opt.runs; r++) {
  const child = fork(fileURLToPath(import.meta.url), [`--sessions=${opt.sessions}`, '--child'], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const result = await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => code && reject(new Error(`child exited ${code}`)))
  })
  runs.push(result)
  console.log(`run ${r}: cluster ${fmt(result.clusterPerSession, 0)} B/session (${fmt(result.clusterPerSession / result.encodedPerSession)}x of ${fmt(result.encodedPerSession, 0)} B encoded), MemoryStore ${fmt(result.storePerSession, 0)} B/session`)
}
const m = (k) => median(runs.map((r) => r[k]))
const enc = m('encodedPerSession')
console.log('\nmedians (target: cluster <= 2x encoded size):')
table([
  { holder: 'session-cluster (origin node, local saves)', 'heap B/session': fmt(m('clusterPerSession'), 0), 'encoded B/session': fmt(enc, 0), ratio: `${fmt(m('clusterPerSession') / enc)}x` },
  { holder: 'express-session MemoryStore (JSON string per sid)', 'heap B/session': fmt(m('storePerSession'), 0), 'encoded B/session': fmt(enc, 0), ratio: `${fmt(m('storePerSession') / enc)}x` },
])
console.log(`(MemoryStore JSON is ${fmt(m('storeJsonPerSession'), 0)} chars/session: it includes express-session's cookie object)`)
console.log(JSON.stringify({ bench: 'memory-per-session', machine: machine(), options: opt, runs }))
