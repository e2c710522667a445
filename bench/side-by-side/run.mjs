#!/usr/bin/env node
// Side-by-side benchmark of session stores behind a real nginx round-robin (`pnpm bench` builds first):
// express-session / @fastify/session with their MemoryStore (one process, the ceiling), with connect-redis
// (3 nodes, a private redis-server), and session-cluster sync and async (the examples, 3 nodes), for Express
// and Fastify, under a read-mostly and a write-heavy workload. See README.md next to this file.
//
//   node bench/side-by-side/run.mjs [--quick] [--duration 10] [--warmup 20] [--connections 50] [--cap 20]
//        [--rounds 1] [--workloads read,write] [--frameworks express,fastify] [--stores memory,unshared,redis,sync,async,backup,backup-sticky]
//        [--secret <CLUSTER_SECRET>]
//
// Figures per configuration: req/s, latency p50/p99, CPU time per request summed over every server-side
// process (the figure that survives a noisy machine), RSS, cluster frames and bytes per request, non-2xx.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { runWrk, WORKLOADS } from './lib/load.mjs'
import { childPids, cleanup, cleanupSync, cpuDelta, cpuSnapshot, findTool, rssBytes, sleep } from './lib/procs.mjs'
import { aggregate, ratioRows, ratioTable, renderSvg, resultsTable, summarizeRun } from './lib/report.mjs'
import { FRAMEWORKS, getJson, REPO_ROOT, STORES, startStack } from './lib/stack.mjs'

const RESULTS_DIR = new URL('./results/', import.meta.url)

// ---------------------------------------------------------------------------------------------------------
// Options

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50' },
    cap: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '1' },
    workloads: { type: 'string', default: 'read,write' },
    frameworks: { type: 'string', default: 'express,fastify' },
    stores: { type: 'string', default: 'memory,unshared,redis,sync,async,backup,backup-sticky' },
    secret: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (opt.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1, 11).join('\n').replace(/^\/\/ ?/gm, ''))
  process.exit(0)
}
const options = {
  // --quick: a smoke run (every configuration, 2 s + 1 s warm-up), for checking the harness, not for figures.
  duration: Number(opt.duration ?? (opt.quick ? 2 : 10)),
  // 20 s: every store still speeds up for the first ~16 s under load (JIT tiers, heap sizing); a shorter warm-up
  // measures part of that curve, the cluster (more code on the request path) more than the others.
  warmup: Number(opt.warmup ?? (opt.quick ? 1 : 20)),
  connections: Number(opt.connections),
  cap: Number(opt.cap),
  rounds: Number(opt.rounds),
  workloads: list(opt.workloads, WORKLOADS, 'workloads'),
  frameworks: list(opt.frameworks, FRAMEWORKS, 'frameworks'),
  stores: list(opt.stores, STORES, 'stores'),
  encrypted: Boolean(opt.secret),
}
for (const k of ['duration', 'connections', 'cap', 'rounds']) {
  if (!(Number.isInteger(options[k]) && options[k] > 0)) die(`--${k} must be a positive integer`)
}
if (!(Number.isInteger(options.warmup) && options.warmup >= 0)) die('--warmup must be an integer >= 0')
if (opt.secret !== undefined && opt.secret.length < 16) die('--secret must be at least 16 characters (the cluster requires it)')

function list(value, known, name) {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean)
  for (const i of items) if (!Object.hasOwn(known, i)) die(`--${name}: unknown "${i}" (known: ${Object.keys(known).join(', ')})`)
  return items
}

function die(message) {
  console.error(`bench: ${message}`)
  process.exit(2)
}

// ---------------------------------------------------------------------------------------------------------
// Prerequisites: fail before starting anything, and say how to fix it.

// NGINX_BIN, REDIS_SERVER_BIN, WRK_BIN override the lookup (a path that does not exist counts as missing).
const tool = (envName, name, candidates) =>
  process.env[envName] ? (existsSync(process.env[envName]) ? process.env[envName] : undefined) : findTool(name, candidates)
const tools = {
  nginx: tool('NGINX_BIN', 'nginx', ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']),
  redis: tool('REDIS_SERVER_BIN', 'redis-server', ['/usr/bin/redis-server', '/usr/local/bin/redis-server']),
  wrk: tool('WRK_BIN', 'wrk', ['/usr/bin/wrk', '/usr/local/bin/wrk']),
}
const missing = []
if (!tools.nginx) missing.push(['nginx', 'nginx'])
if (!tools.wrk) missing.push(['wrk', 'wrk'])
if (!tools.redis && options.stores.includes('redis')) missing.push(['redis-server', 'redis-server'])
if (missing.length) {
  die(
    `missing ${missing.map(([t]) => t).join(', ')}. Install: \`apt-get install -y ${missing.map(([, p]) => p).join(' ')}\`` +
      ' (or set NGINX_BIN / REDIS_SERVER_BIN / WRK_BIN)',
  )
}
if (options.stores.some((s) => STORES[s].cluster)) {
  for (const fw of options.frameworks) {
    const dist = `${REPO_ROOT}packages/${FRAMEWORKS[fw].package}/dist/index.js`
    if (!existsSync(dist)) die(`${dist} is missing: run \`pnpm build\` first (\`pnpm bench\` does)`)
  }
}
for (const dep of ['express-session', '@fastify/session', ...(options.stores.includes('redis') ? ['connect-redis', 'redis'] : [])]) {
  if (!existsSync(`${REPO_ROOT}bench/node_modules/${dep}/package.json`)) die(`bench/node_modules/${dep} is missing: run \`pnpm install\``)
}

// ---------------------------------------------------------------------------------------------------------
// Cleanup on every way out: normal end, a failed step (finally below), SIGINT/SIGTERM, and as a last resort
// a synchronous SIGKILL of whatever is left when the process exits.

let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return
    interrupted = true
    console.error(`\n${signal}: stopping every process the benchmark started...`)
    cleanup().finally(() => process.exit(130))
  })
}
process.on('exit', cleanupSync)

// ---------------------------------------------------------------------------------------------------------
// Run

const machine = describeMachine()
console.log(
  `machine: ${machine.nproc} CPUs (${machine.cpu}), Linux ${machine.kernel}, node ${machine.node}, load average ${machine.loadavg.join(' ')}`,
)
console.log(`versions: ${Object.entries(machine.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`)
console.log(
  `each configuration: ${options.warmup} s warm-up + ${options.duration} s measured, ${options.connections} connections (one session each, new session after ${options.cap} adds), ${options.rounds} round(s); cluster traffic ${options.encrypted ? 'AES-256-GCM' : 'plaintext (loopback, no CLUSTER_SECRET, as the e2e tests)'}`,
)

const runs = []
const startedAt = new Date()
const builtAtStart = builtPackages()
try {
  for (let round = 1; round <= options.rounds; round++) {
    for (const workload of options.workloads) {
      for (const framework of options.frameworks) {
        for (const store of options.stores) {
          if (interrupted) break
          const run = await measure({ round, workload, framework, store })
          runs.push(run)
          console.log(
            `  ${`${WORKLOADS[workload].label} ${framework} ${STORES[store].label}`.padEnd(44)} ${fmt(run.rps).padStart(7)} req/s  p50 ${run.latencyMs.p50.toFixed(1)} ms  p99 ${run.latencyMs.p99.toFixed(1)} ms  CPU ${fmt(run.cpu.perRequestUs)} us/req${run.non2xx + run.socketErrors ? `  NON-2XX/ERRORS ${run.non2xx + run.socketErrors}` : ''}  (load ${run.loadavg.map((x) => x.toFixed(1)).join(' -> ')})`,
          )
        }
      }
    }
  }
} catch (err) {
  if (!interrupted) {
    console.error(`\nbench failed: ${err?.stack ?? err}`)
    process.exitCode = 1
  }
} finally {
  await cleanup()
}
if (interrupted) await new Promise(() => {}) // the signal handler exits once cleanup is done

if (runs.length > 0) report()

// ---------------------------------------------------------------------------------------------------------

/** One configuration: fresh servers, warm-up, measured window, figures, everything stopped again. */
async function measure({ round, workload, framework, store }) {
  const spec = STORES[store]
  const { stack, build } = await startBuiltStack({ framework, store })
  try {
    const load = { wrk: tools.wrk, url: stack.url, workload, connections: options.connections, cap: options.cap }
    // Warm-up: JIT, connection pools (nginx to nodes, nodes to redis and to each other), first sessions.
    if (options.warmup > 0) await runWrk({ ...load, seconds: options.warmup })
    await sleep(200) // let async replication of the warm-up drain before the window opens

    const statusBefore = spec.cluster ? await clusterCounters(stack) : undefined
    const loadBefore = loadavg()[0]
    const cpuBefore = cpuSnapshot(stack.processes)
    const wrk = await runWrk({ ...load, seconds: options.duration })
    const cpuAfter = cpuSnapshot(stack.processes)
    // A server that died mid-window makes every figure of this configuration meaningless: stop here.
    const dead = stack.dead()
    if (dead.length) throw new Error(`${WORKLOADS[workload].label} ${framework} ${spec.label}: ${dead.join('\n')}`)
    // Async replication of the last requests may still be on its way: read the counters a moment later.
    if (spec.cluster) await sleep(200)
    const statusAfter = spec.cluster ? await clusterCounters(stack) : undefined
    const rss = [
      ...stack.processes.map((p) => ({ role: p.role, pid: p.pid, bytes: rssBytes(p.pid) })),
      ...childPids(stack.processes.find((p) => p.role === 'nginx').pid).map((pid) => ({ role: 'nginx-worker', pid, bytes: rssBytes(pid) })),
    ]
    const counters = statusBefore?.map((before, i) => ({ route: stack.nodes[i].route, before, after: statusAfter[i] }))
    return {
      round,
      workload,
      workloadLabel: WORKLOADS[workload].label,
      framework,
      store,
      storeLabel: spec.label,
      nodes: spec.nodes,
      build,
      loadavg: [loadBefore, loadavg()[0]],
      ...summarizeRun({ wrk, cpuDeltas: cpuDelta(cpuBefore, cpuAfter), counters, rss }),
      wrk,
    }
  } finally {
    await stack.stop()
  }
}

/**
 * Nodes load packages/*\/dist when they start, and another developer's `pnpm build` may replace (or, while
 * tsup cleans, remove) it at any time. Start again when the build changed while the nodes were starting, so
 * every configuration ran one known build (its modification times go into the results).
 */
async function startBuiltStack({ framework, store }) {
  for (let attempt = 1; ; attempt++) {
    const before = builtPackages()
    let stack
    try {
      stack = await startStack({ framework, store, tools, connections: options.connections, clusterSecret: opt.secret })
    } catch (err) {
      // A node that found dist half-written fails to start: wait for the build to finish, then try again.
      const rebuilding = JSON.stringify(builtPackages()) !== JSON.stringify(before) || Object.values(before).includes('missing')
      if (!STORES[store].cluster || !rebuilding || attempt === 3) throw err
      console.warn(`  (packages/*/dist is being rebuilt: waiting to start ${framework} ${STORES[store].label} again)`)
      await waitForStableBuild()
      continue
    }
    const build = STORES[store].cluster ? builtPackages() : undefined
    if (!build || JSON.stringify(build) === JSON.stringify(before) || attempt === 3) return { stack, build }
    console.warn(`  (packages/*/dist changed while ${framework} ${STORES[store].label} started: starting again)`)
    await stack.stop()
  }
}

/** Each node's /cluster/status counters, read from the node directly (not through nginx). */
async function clusterCounters(stack) {
  return Promise.all(
    stack.nodes.map(async (node) => {
      const { status, body } = await getJson(`${node.url}/cluster/status`)
      if (status !== 200) throw new Error(`${node.route}: /cluster/status answered ${status}`)
      return body.counters ?? {}
    }),
  )
}

function report() {
  const rows = aggregate(runs)
  const finishedAt = new Date()
  console.log(`\n## Results (${options.rounds > 1 ? `median of ${options.rounds} rounds` : 'one round'})\n`)
  console.log(resultsTable(rows))
  if (ratioRows(rows).length > 0) {
    console.log('\n## Ratios\n')
    console.log(ratioTable(rows))
  }
  for (const r of ratioRows(rows).filter((x) => x.storeLabel === STORES.sync.label && Number.isFinite(x.rpsVsRedis))) {
    console.log(
      `session-cluster sync vs connect-redis, ${r.workloadLabel}, ${r.framework}: req/s ${r.rpsVsRedis.toFixed(2)}x, CPU/request ${r.cpuVsRedis.toFixed(2)}x`,
    )
  }

  // A `pnpm build` by someone else during the run changes what later configurations measure: say which
  // configurations ran which build instead of mixing builds silently.
  const builds = new Map()
  for (const r of runs.filter((x) => x.build)) {
    const key = JSON.stringify(r.build)
    if (!builds.has(key)) builds.set(key, [])
    builds.get(key).push(`${r.workloadLabel} ${r.framework} ${r.storeLabel}`)
  }
  const rebuilt = builds.size > 1
  if (rebuilt) {
    console.warn('\nWARNING: packages/*/dist changed during the run; the session-cluster configurations ran different builds:')
    for (const [key, names] of builds) console.warn(`  core built ${JSON.parse(key).core}: ${names.join(', ')}`)
  }

  mkdirSync(RESULTS_DIR, { recursive: true })
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-')
  const jsonUrl = new URL(`${stamp}.json`, RESULTS_DIR)
  const command = `node bench/side-by-side/run.mjs ${process.argv.slice(2).map((a) => (/^--secret/.test(a) ? '--secret ***' : a)).join(' ')}`.trim()
  writeFileSync(
    jsonUrl,
    `${JSON.stringify({ bench: 'side-by-side', command, startedAt, finishedAt, machine: { ...machine, loadavgEnd: loadavg() }, builtPackages: builtAtStart, rebuiltDuringRun: rebuilt, options, summary: rows, runs }, null, 2)}\n`,
  )
  const svgUrl = new URL('latest.svg', RESULTS_DIR)
  writeFileSync(
    svgUrl,
    renderSvg(rows, {
      title: 'session stores behind nginx round-robin',
      subtitle: `${machine.nproc} CPUs, node ${machine.node}, ${options.duration} s per configuration, ${options.connections} connections, ${startedAt.toISOString().slice(0, 16)}Z`,
    }),
  )
  console.log(`\nraw: ${jsonUrl.pathname}\nchart: ${svgUrl.pathname}`)
}

/** Until every package's dist exists and has not changed for 3 s (at most a minute). */
async function waitForStableBuild() {
  let last = ''
  let stableSince = Date.now()
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(500)) {
    const now = JSON.stringify(builtPackages())
    if (now !== last || now.includes('missing')) {
      last = now
      stableSince = Date.now()
    } else if (Date.now() - stableSince >= 3_000) return
  }
}

/** Modification time of each package's built entry point (what the session-cluster nodes load). */
function builtPackages() {
  const out = {}
  for (const name of ['core', 'express', 'fastify']) {
    const file = `${REPO_ROOT}packages/${name}/dist/index.js`
    out[name] = existsSync(file) ? statSync(file).mtime.toISOString() : 'missing'
  }
  return out
}

function describeMachine() {
  const version = (cmd, args, re) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' })
    return re.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown'
  }
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(`${REPO_ROOT}bench/node_modules/${name}/package.json`, 'utf8')).version
    } catch {
      return 'missing'
    }
  }
  const git = (args) => spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).stdout?.trim()
  return {
    nproc: cpus().length,
    cpu: cpus()[0]?.model.trim(),
    kernel: version('uname', ['-r'], /(\S+)/),
    node: process.version,
    loadavg: loadavg().map((x) => x.toFixed(2)),
    commit: `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', 'packages', 'examples']) ? ' (packages or examples modified)' : ''}`,
    versions: {
      nginx: version(tools.nginx, ['-v'], /nginx\/(\S+)/),
      'redis-server': tools.redis ? version(tools.redis, ['--version'], /v=(\S+)/) : 'missing',
      wrk: version(tools.wrk, ['-v'], /wrk (\S+)/),
      'connect-redis': pkg('connect-redis'),
      redis: pkg('redis'),
      'express-session': pkg('express-session'),
      '@fastify/session': pkg('@fastify/session'),
    },
  }
}

function fmt(x) {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-'
}
