// Shared helpers for the replication benchmarks: child cluster nodes over IPC, stats, machine facts.
import { readFileSync, statSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { eventually as pollUntil, forkNode } from '../../packages/core/test/fixtures/node-process.mjs'

/** The built core package: packages/core/dist by default, or SC_CORE_DIST (a path or file URL) for a pinned build. */
export function distUrl() {
  const override = process.env.SC_CORE_DIST
  if (override) return override.startsWith('file:') ? override : pathToFileURL(override).href
  return new URL('../../packages/core/dist/index.js', import.meta.url).href
}

export function machine() {
  let model = cpus()[0]?.model ?? 'unknown'
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) model = m[1].trim()
  } catch {}
  let built = ''
  try {
    built = statSync(fileURLToPath(distUrl())).mtime.toISOString()
  } catch {}
  let load = ''
  try {
    load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  } catch {}
  return { nproc: cpus().length, node: process.version, cpu: model, loadavg: load, dist: fileURLToPath(distUrl()), distBuilt: built }
}

export function printMachine() {
  const m = machine()
  console.log(`machine: nproc=${m.nproc} node=${m.node} cpu="${m.cpu}" loadavg=${m.loadavg}`)
  console.log(`core dist: ${m.dist} (built ${m.distBuilt})`)
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

/** Nearest-rank percentile (p in 0..100). */
export const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}

export const MiB = 1024 * 1024
export const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : String(x))

/** Print rows (array of objects) as an aligned text table. */
export function table(rows) {
  if (rows.length === 0) return
  const cols = Object.keys(rows[0])
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? '')))
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)))
  const line = (vals) => `| ${vals.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`
  console.log(line(cols))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const row of cells) console.log(line(row))
}

export function args(defaults) {
  const out = { ...defaults }
  for (const a of process.argv.slice(2)) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a)
    if (!m) continue
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    const def = defaults[key]
    const v = m[2] ?? 'true'
    out[key] = typeof def === 'number' ? Number(v) : typeof def === 'boolean' ? v !== 'false' : v
  }
  return out
}

/**
 * A realistic session (~1 KiB encoded as sum of attribute-name + JSON lengths): a user object, a cart of
 * 10 items, a few strings and a counter. Deterministic in `i`.
 */
export function realisticSession(i) {
  const hex = (n) => (n >>> 0).toString(16).padStart(8, '0')
  return {
    user: {
      id: 100_000 + i,
      name: `Customer ${i}`,
      email: `customer.${i}@example.com`,
      roles: ['customer'],
      locale: 'en-GB',
      since: '2024-03-01T10:00:00.000Z',
    },
    cart: Array.from({ length: 10 }, (_, k) => ({
      sku: `SKU-${String((i * 10 + k) % 1_000_000).padStart(6, '0')}`,
      name: `Product ${k} no. ${(i + k) % 997}`,
      qty: 1 + (k % 3),
      price: 1999 + k * 100,
    })),
    csrf: `${hex(i * 2654435761)}${hex(i * 40503)}${hex(i ^ 0x5bd1e995)}${hex(i * 97)}`,
    lastPage: '/products/category/shoes?page=2&sort=price',
    currency: 'EUR',
    flash: 'Your item was added to the cart. Free delivery over 50 EUR.',
    views: i % 100,
  }
}

/** Sum of attribute-name lengths plus JSON lengths (UTF-8 bytes): the session's encoded size. */
export function encodedSize(data) {
  let bytes = 0
  for (const [name, value] of Object.entries(data)) bytes += Buffer.byteLength(name) + Buffer.byteLength(JSON.stringify(value))
  return bytes
}

const fixture = fileURLToPath(new URL('./cluster-node.mjs', import.meta.url))

/**
 * A cluster node in a child process (bench/replication/cluster-node.mjs), commanded over IPC.
 * Resolves once the node reported ready; `info.spawnToReadyMs` is measured here (fork to ready message),
 * `info.startToReadyMs` inside the child (createSessionCluster + start()).
 */
export function startNode(route, options, { execArgv = [], readyTimeoutMs = 120_000 } = {}) {
  return forkNode(fixture, route, options, { execArgv, readyTimeoutMs, callTimeoutMs: 300_000, serialization: 'advanced' })
}

/** Poll until `check` is true or the deadline passes. */
export function eventually(check, { timeoutMs = 20_000, intervalMs = 20 } = {}) {
  return pollUntil(check, { timeoutMs, intervalMs })
}

/**
 * The write-cost benchmarks' workload: `concurrency` saves in flight through `writer`, each adding an item to one of
 * 50 carts (restarted after 20 items, the side-by-side harness's sessions). `run(count)` makes `count` writes.
 */
export function cartWrites(writer, concurrency) {
  const ids = Array.from({ length: 50 }, () => writer.generateId())
  let written = 0
  async function add() {
    const id = ids[written++ % ids.length]
    const loaded = await writer.load(id)
    const cart = Array.isArray(loaded?.data.cart) && loaded.data.cart.length < 20 ? loaded.data.cart : []
    cart.push('x')
    await writer.save(id, { ...(loaded?.data ?? {}), cart }, { loaded })
  }
  return async function run(count) {
    let left = count
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await add()
    }))
  }
}
