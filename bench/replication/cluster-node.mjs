// A cluster node in its own process for the replication benchmarks: the commands of the multi-process tests
// (packages/core/test/fixtures/node-commands.mjs) plus benchmark commands (fill, gc, sampler-start/stop,
// counters, cpu, put, update, latency). Runs the BUILT package: packages/core/dist/index.js by default, or the
// build named by SC_CORE_DIST.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { nodeCommands, serveCommands } from '../../packages/core/test/fixtures/node-commands.mjs'
import { distUrl, realisticSession } from './lib.mjs'

const dist = distUrl()
if (!existsSync(fileURLToPath(dist))) {
  console.error(`${fileURLToPath(dist)} is missing: run \`cd packages/core && npx tsup\` first`)
  process.exit(2)
}
const { createSessionCluster, silentLogger, consoleLogger } = await import(dist)

const options = JSON.parse(process.env.CLUSTER_OPTIONS ?? '{}')
// BENCH_CPU_PROFILE=<dir>: a CPU profile of start-up (state transfer included), written when the node is ready.
const profiler = process.env.BENCH_CPU_PROFILE ? await startProfiler('start') : undefined
let stopSamplerProfile
const t0 = performance.now()
// Peak memory while starting (for a joiner: during its state transfer), sampled every 20 ms.
const startPeak = { rss: 0, heapUsed: 0 }
const sampleStart = () => {
  const m = process.memoryUsage()
  startPeak.rss = Math.max(startPeak.rss, m.rss)
  startPeak.heapUsed = Math.max(startPeak.heapUsed, m.heapUsed)
}
const startSampler = setInterval(sampleStart, 20)
const cluster = createSessionCluster({ logger: process.env.CLUSTER_LOG ? consoleLogger() : silentLogger, ...options })
await cluster.start()
const startToReadyMs = performance.now() - t0
sampleStart()
clearInterval(startSampler)
await profiler?.()
const cpu = process.cpuUsage() // whole process so far (module loading included)
process.send({ event: 'ready', port: cluster.local.address.port, status: cluster.status(), startToReadyMs, cpuMs: (cpu.user + cpu.system) / 1000, startPeak })

const gc = () => {
  if (!globalThis.gc) throw new Error('run this node with --expose-gc')
  globalThis.gc()
  globalThis.gc()
}

let sampler

const commands = {
  ...nodeCommands(cluster),
  counters: () => cluster.status().counters,
  /** CPU time of this process so far, in ms (user + system). */
  cpu: () => {
    const { user, system } = process.cpuUsage()
    return (user + system) / 1000
  },

  // ---- benchmark commands ----

  /** Write `count` realistic (~1 KiB) sessions straight through save(); returns how many and how long. */
  async fill({ count, concurrency = 64 }) {
    const start = performance.now()
    let next = 0
    async function worker() {
      while (next < count) {
        const i = next++
        await cluster.save(cluster.generateId(), realisticSession(i))
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    return { count, ms: performance.now() - start, sessions: cluster.size }
  },
  /** Full gc (twice), then process.memoryUsage(). */
  gc: () => {
    gc()
    return process.memoryUsage()
  },
  /** gc, take a baseline, then sample memoryUsage every `intervalMs` until sampler-stop. */
  'sampler-start': async ({ intervalMs = 20 }) => {
    if (process.env.BENCH_CPU_PROFILE) stopSamplerProfile = await startProfiler('serving')
    gc()
    const baseline = process.memoryUsage()
    const peak = { ...baseline }
    let samples = 0
    const sample = () => {
      const m = process.memoryUsage()
      samples++
      for (const k of Object.keys(peak)) if (m[k] > peak[k]) peak[k] = m[k]
    }
    sampler = { baseline, peak, timer: setInterval(sample, intervalMs), sample, count: () => samples, started: performance.now(), cpu: process.cpuUsage() }
    return baseline
  },
  'sampler-stop': async () => {
    if (!sampler) throw new Error('no sampler running')
    await stopSamplerProfile?.()
    sampler.sample()
    clearInterval(sampler.timer)
    const { baseline, peak } = sampler
    const cpu = process.cpuUsage(sampler.cpu)
    const result = { baseline, peak, samples: sampler.count(), ms: performance.now() - sampler.started, cpuMs: (cpu.user + cpu.system) / 1000 }
    sampler = undefined
    return result
  },
  /** Create a session with exactly `data`; returns its id. */
  async put({ data }) {
    const id = cluster.generateId()
    await cluster.save(id, data)
    return id
  },
  /** Load, assign `set` (top-level attributes), save with the loaded baseline (one request). */
  async update({ id, set }) {
    const loaded = await cluster.load(id)
    if (!loaded) throw new Error(`unknown session ${id}`)
    Object.assign(loaded.data, set)
    await cluster.save(id, loaded.data, { loaded })
    return true
  },
  /** Load each of `ids` in turn; returns each load's time in microseconds (-1 where the session was not found). */
  async timedLoads({ ids }) {
    const us = []
    for (const id of ids) {
      const t = process.hrtime.bigint()
      const loaded = await cluster.load(id)
      us.push(loaded ? Number(process.hrtime.bigint() - t) / 1000 : -1)
    }
    return us
  },
  /**
   * `warmup` + `count` sequential request cycles on session `id`: load, increment `attr`, save.
   * Returns the per-commit latencies (load + modify + save) of the measured ones in microseconds.
   */
  async latency({ id, count, warmup = 200, attr = 'views' }) {
    const us = new Array(count)
    for (let i = -warmup; i < count; i++) {
      const t = process.hrtime.bigint()
      const loaded = await cluster.load(id)
      if (!loaded) throw new Error(`unknown session ${id}`)
      loaded.data[attr] = (loaded.data[attr] ?? 0) + 1
      await cluster.save(id, loaded.data, { loaded })
      const dt = process.hrtime.bigint() - t
      if (i >= 0) us[i] = Number(dt) / 1000
    }
    return us
  },
}

serveCommands(cluster, commands)

async function startProfiler(phase) {
  const { Session } = await import('node:inspector/promises')
  const { mkdirSync, writeFileSync } = await import('node:fs')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    const dir = process.env.BENCH_CPU_PROFILE
    mkdirSync(dir, { recursive: true })
    writeFileSync(`${dir}/${options.route}-${phase}-${process.pid}.cpuprofile`, JSON.stringify(profile))
    session.disconnect()
  }
}
