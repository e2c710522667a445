// The demo's example nodes: child processes of examples/express-cart/server.js (the example contract,
// the example contract of the root README), started, killed, restarted and added at runtime.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

const STATUS_TIMEOUT_MS = 800
const MAX_OUTPUT_LINES = 200

/**
 * One node: a route, an HTTP port and a cluster port that stay the same across restarts, and the child
 * process of the current run (if any).
 */
export class DemoNode {
  /**
   * @param {{ app: string, route: string, port: number, clusterPort: number, replication: string,
   *           env?: Record<string, string>, onLine?: (node: DemoNode, line: string) => void }} spec
   */
  constructor(spec) {
    this.spec = spec
    this.child = undefined
    this.exited = undefined
    /** running | killed | stopped | exited | crashed */
    this.process = 'new'
    this.startedAt = undefined
    this.restarts = 0
    this.output = []
    this.lastExit = undefined
  }

  get route() {
    return this.spec.route
  }
  get url() {
    return `http://127.0.0.1:${this.spec.port}`
  }
  get httpAddress() {
    return `127.0.0.1:${this.spec.port}`
  }
  get clusterAddress() {
    return `127.0.0.1:${this.spec.clusterPort}`
  }
  get running() {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }
  get pid() {
    return this.running ? this.child.pid : undefined
  }

  /** Spawn with `members` (host:port of every cluster member, this node's own included). */
  start(members) {
    if (this.running) throw new Error(`${this.route} is already running`)
    const { spec } = this
    if (this.child) this.restarts++
    const child = spawn(process.execPath, [`examples/${spec.app}/server.js`], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PORT: String(spec.port),
        ROUTE: spec.route,
        CLUSTER_HOST: '127.0.0.1',
        CLUSTER_PORT: String(spec.clusterPort),
        CLUSTER_MEMBERS: members.join(','),
        REPLICATION: spec.replication,
        ...spec.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    this.process = 'running'
    this.startedAt = Date.now()
    this.killedBy = undefined
    const collect = (chunk) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue
        this.output.push(line)
        spec.onLine?.(this, line)
      }
      if (this.output.length > MAX_OUTPUT_LINES) this.output.splice(0, this.output.length - MAX_OUTPUT_LINES)
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.lastExit = { code, signal, at: Date.now() }
        if (this.killedBy === 'SIGKILL') this.process = 'killed'
        else if (this.killedBy === 'SIGTERM') this.process = code === 0 ? 'stopped' : 'crashed'
        else this.process = code === 0 ? 'exited' : 'crashed'
        resolve({ code, signal })
      })
    })
    child.once('error', (err) => this.output.push(`spawn error: ${err.message}`))
    return child.pid
  }

  /** SIGKILL: the process dies at once, without leaving the cluster. */
  async kill() {
    if (!this.running) return this.lastExit
    this.killedBy = 'SIGKILL'
    this.child.kill('SIGKILL')
    return this.exited
  }

  /** SIGTERM: the contract's graceful stop (flush, leave the cluster); SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 6_000) {
    if (!this.running) return this.lastExit
    this.killedBy = 'SIGTERM'
    this.child.kill('SIGTERM')
    let timer
    const result = await Promise.race([this.exited, new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))])
    clearTimeout(timer)
    if (result !== 'timeout') return result
    this.killedBy = 'SIGKILL'
    this.child.kill('SIGKILL')
    return this.exited
  }

  /** Last-resort synchronous kill (process exit path). */
  killNow() {
    if (this.running) {
      try {
        this.child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
  }

  /** `/cluster/status` of this node: { httpStatus, body } or { error }. */
  async status() {
    if (!this.running) return { error: 'process not running' }
    try {
      const res = await fetch(`${this.url}/cluster/status`, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) })
      const text = await res.text()
      let body
      try {
        body = JSON.parse(text)
      } catch {
        body = undefined
      }
      return { httpStatus: res.status, body }
    } catch (err) {
      return { error: err?.cause?.code ?? err?.name ?? String(err) }
    }
  }

  /** GET `path` of this node as text, or undefined (not running, no answer). */
  async text(path) {
    if (!this.running) return undefined
    try {
      const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) })
      return res.ok ? await res.text() : undefined
    } catch {
      return undefined
    }
  }

  /**
   * Message rates and replication latency since the previous call, from the node's `/metrics` (Prometheus text):
   * frames per second sent and received, and the mean latency of the sync saves in between (ms).
   */
  async rates() {
    const text = await this.text('/metrics')
    if (!text) {
      this.lastSample = undefined
      return null
    }
    const sample = { at: Date.now(), ...summariseMetrics(text) }
    const previous = this.lastSample
    this.lastSample = sample
    if (!previous) return { sentPerSecond: null, receivedPerSecond: null, latencyMs: null, saves: sample.latencyCount }
    const seconds = Math.max(0.001, (sample.at - previous.at) / 1000)
    const saves = sample.latencyCount - previous.latencyCount
    return {
      sentPerSecond: Math.max(0, sample.sent - previous.sent) / seconds,
      receivedPerSecond: Math.max(0, sample.received - previous.received) / seconds,
      // No save since the last look: keep showing the last mean rather than nothing.
      latencyMs: saves > 0 ? ((sample.latencySum - previous.latencySum) / saves) * 1000 : (this.lastLatencyMs ?? null),
      saves: sample.latencyCount,
    }
  }

  /** Wait until `/cluster/status` answers 200 (ready), the process exits, or `timeoutMs` passes. */
  async waitReady(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.route} exited during startup:\n${this.tail(15)}`)
      const s = await this.status()
      if (s.httpStatus === 200) return s.body
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`${this.route} was not ready after ${timeoutMs} ms:\n${this.tail(15)}`)
  }

  tail(lines = 20) {
    return this.output.slice(-lines).join('\n')
  }
}

/**
 * A view of one node for the dashboard: its process, its own `/cluster/status`, and a single `state`:
 * up (ready), starting (running, not ready yet), down (no process, or it does not answer).
 */
export async function describeNode(node) {
  const [s, rates] = await Promise.all([node.status(), node.rates()])
  if (rates?.latencyMs != null) node.lastLatencyMs = rates.latencyMs
  let state
  if (!node.running) state = 'down'
  else if (s.httpStatus === 200) state = 'up'
  else if (s.httpStatus === 503 || (s.error && Date.now() - node.startedAt < 30_000)) state = 'starting'
  else state = 'down'
  const body = s.body
  return {
    route: node.route,
    state,
    process: node.running ? 'running' : node.process,
    pid: node.pid ?? null,
    httpPort: node.spec.port,
    clusterPort: node.spec.clusterPort,
    url: node.url,
    restarts: node.restarts,
    uptimeMs: node.running ? Date.now() - node.startedAt : null,
    lastExit: node.lastExit ?? null,
    error: s.error ?? null,
    ready: body?.ready ?? false,
    stateTransfer: body?.stateTransfer ?? null,
    sessions: typeof body?.sessions === 'number' ? body.sessions : null,
    members: Array.isArray(body?.members)
      ? body.members.map((m) => ({ route: m.route, address: m.address, state: m.state, ready: m.ready }))
      : null,
    replication: body?.replication ?? node.spec.replication,
    rates,
    events: Array.isArray(body?.events) ? body.events : [],
    /** Members this node has fenced off (excluded from sync replication until they catch up). */
    fenced: Array.isArray(body?.strategy?.streams)
      ? body.strategy.streams.filter((m) => m.included === false).map((m) => body.members?.find((x) => x.id === m.id)?.route ?? m.id)
      : [],
    sessionRefs: await sessionsOf(node),
    rejectedBy: Array.isArray(body?.rejectedBy) ? body.rejectedBy.map((r) => r.message) : [],
  }
}

async function sessionsOf(node) {
  const text = await node.text('/cluster/sessions')
  try {
    return text ? JSON.parse(text).sessions.map((s) => s.ref) : null
  } catch {
    return null
  }
}

/** The few series the dashboard draws, summed over their labels, from Prometheus text. */
export function summariseMetrics(text) {
  const out = { sent: 0, received: 0, latencySum: 0, latencyCount: 0 }
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const value = Number(line.slice(line.lastIndexOf(' ') + 1))
    if (!Number.isFinite(value)) continue
    if (line.startsWith('session_cluster_frames_total{')) {
      if (line.includes('direction="sent"')) out.sent += value
      else if (line.includes('direction="received"')) out.received += value
    } else if (line.startsWith('session_cluster_replication_latency_seconds_sum')) out.latencySum += value
    else if (line.startsWith('session_cluster_replication_latency_seconds_count')) out.latencyCount += value
  }
  return out
}
