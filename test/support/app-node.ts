import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { fetchStatus } from './http-client.js'
import { freePorts } from './ports.js'
import { waitFor } from './wait.js'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export type AppName = 'express-cart' | 'fastify-cart'
export type Replication = 'sync' | 'async'

/** What `/cluster/status` answers (the fields the tests read). */
export interface StatusBody {
  route: string
  ready: boolean
  members: Array<{ route: string; address: string; state: string; ready?: boolean }>
  sessions: number
  [key: string]: unknown
}

export interface AppNodeSpec {
  app: AppName
  route: string
  port: number
  clusterPort: number
  /** `host:port` of every member (this node's own entry included: the contract says it is ignored). */
  members: string[]
  replication: Replication
  env?: Record<string, string>
}

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  /** From the signal to the exit. */
  ms: number
}

const PACKAGE_OF: Record<AppName, string> = { 'express-cart': 'express', 'fastify-cart': 'fastify' }

/** Fail early and clearly when the package an example imports has not been built. */
export function assertBuilt(app: AppName): void {
  const dist = `${REPO_ROOT}packages/${PACKAGE_OF[app]}/dist/index.js`
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`pnpm build\` first (\`pnpm test\` does)`)
  // The examples serve /metrics through @session-cluster/prometheus.
  const prometheus = `${REPO_ROOT}packages/prometheus/dist/index.js`
  if (!existsSync(prometheus)) throw new Error(`${prometheus} is missing: run \`pnpm build\` first (\`pnpm test\` does)`)
  const link = `${REPO_ROOT}examples/${app}/node_modules/@session-cluster/${PACKAGE_OF[app]}`
  if (!existsSync(link)) throw new Error(`${link} is missing: run \`pnpm install\` to link the example's workspace dependencies`)
}

/**
 * One example node (`node examples/<app>/server.js`) as a child process: start, wait for
 * `/cluster/status` 200, kill or stop, restart on the same ports.
 */
export class AppNode {
  private child: ChildProcess | undefined
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined
  private readonly output: string[] = []

  constructor(readonly spec: AppNodeSpec) {}

  get route(): string {
    return this.spec.route
  }
  get url(): string {
    return `http://127.0.0.1:${this.spec.port}`
  }
  get httpAddress(): string {
    return `127.0.0.1:${this.spec.port}`
  }
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }
  get pid(): number | undefined {
    return this.child?.pid
  }

  /** The last lines the process printed (for failure messages). */
  tail(lines = 40): string {
    return this.output.slice(-lines).join('\n')
  }

  /** Spawn and wait until `/cluster/status` answers 200; resolves with that first ready status. */
  async start({ timeoutMs = 30_000 }: { timeoutMs?: number } = {}): Promise<StatusBody> {
    if (this.running) throw new Error(`${this.route} is already running`)
    const { spec } = this
    const child = spawn(process.execPath, [`examples/${spec.app}/server.js`], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PORT: String(spec.port),
        ROUTE: spec.route,
        CLUSTER_HOST: '127.0.0.1',
        CLUSTER_PORT: String(spec.clusterPort),
        CLUSTER_MEMBERS: spec.members.join(','),
        REPLICATION: spec.replication,
        ...spec.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    this.output.push(`--- start ${spec.route} pid ${child.pid} ---`)
    const verbose = Boolean(process.env.E2E_VERBOSE)
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue
        this.output.push(line)
        if (verbose) console.log(`[${spec.route}] ${line}`)
      }
      if (this.output.length > 500) this.output.splice(0, this.output.length - 500)
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))

    return waitFor(
      `${spec.app} ${spec.route} on :${spec.port} to report ready`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new ExitedEarlyError(`${spec.route} exited during startup (code ${child.exitCode}, signal ${child.signalCode})\n${this.tail()}`)
        }
        const res = await fetchStatus(`${this.url}/cluster/status`).catch(() => undefined)
        if (res?.status !== 200) return undefined
        return JSON.parse(res.body) as StatusBody
      },
      { timeoutMs, intervalMs: 50, describe: () => this.tail(), rethrow: (err) => err instanceof ExitedEarlyError },
    )
  }

  /** Send `signal` and wait for the exit (SIGKILL after `timeoutMs` if it does not come). */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 10_000): Promise<ExitInfo> {
    const child = this.child
    if (!child || !this.exited || !this.running) throw new Error(`${this.route} is not running`)
    const started = Date.now()
    child.kill(signal)
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs)
    })
    const result = await Promise.race([this.exited, timedOut])
    clearTimeout(timer)
    if (result === 'timeout') {
      child.kill('SIGKILL')
      const forced = await this.exited
      this.output.push(`--- ${this.route} ignored ${signal} for ${timeoutMs} ms: SIGKILLed ---`)
      return { ...forced, ms: Date.now() - started }
    }
    this.output.push(`--- exit ${this.route}: code ${result.code} signal ${result.signal} ---`)
    return { ...result, ms: Date.now() - started }
  }

  /** Send a signal that does not end the process (SIGSTOP, SIGCONT): nothing to wait for. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    if (!this.child || !this.running) throw new Error(`${this.route} is not running`)
    this.child.kill(signal)
  }

  /** SIGTERM: the contract's graceful stop. */
  stop(): Promise<ExitInfo> {
    return this.kill('SIGTERM')
  }

  async status(): Promise<{ status: number; body: StatusBody | undefined }> {
    const res = await fetchStatus(`${this.url}/cluster/status`)
    return { status: res.status, body: res.status === 200 || res.status === 503 ? (JSON.parse(res.body) as StatusBody) : undefined }
  }

  /** Kill whatever is left (test teardown). */
  async dispose(): Promise<void> {
    if (this.running) await this.kill('SIGKILL')
  }
}

class ExitedEarlyError extends Error {}

/** Wait until every running node of `nodes` is ready and lists exactly the other running nodes, all alive. */
export async function waitMembership(nodes: readonly AppNode[], timeoutMs = 15_000): Promise<void> {
  await waitFor(
    'membership to settle',
    async () => {
      const running = nodes.filter((n) => n.running)
      for (const node of running) {
        const { status, body } = await node.status()
        if (status !== 200 || !body) return undefined
        if (body.members.some((m) => m.state !== 'alive')) return undefined
        const seen = body.members.map((m) => m.route).sort()
        const expected = running
          .filter((n) => n !== node)
          .map((n) => n.route)
          .sort()
        if (seen.join() !== expected.join()) return undefined
      }
      return true
    },
    { timeoutMs, intervalMs: 100, describe: () => tails(nodes) },
  )
}

/** The last lines of every node's output, for failure messages. */
export function tails(nodes: readonly AppNode[], lines = 25): string {
  return nodes.map((n) => `=== ${n.route} ===\n${n.tail(lines)}`).join('\n')
}

export interface Cluster {
  nodes: AppNode[]
  byRoute(route: string | undefined): AppNode
  /** Wait until every running node lists exactly the other running nodes as members. */
  waitMembership(timeoutMs?: number): Promise<void>
  /** Output of every node, for failure messages. */
  tails(): string
  dispose(): Promise<void>
}

/**
 * `size` nodes of `app` (routes node1..nodeN) on free ports, every node listing every member, started
 * together and ready. Retries with new ports when one was taken meanwhile (EADDRINUSE).
 */
export async function startCluster({
  app,
  replication = 'sync',
  size = 3,
  env,
}: {
  app: AppName
  replication?: Replication
  size?: number
  env?: Record<string, string>
}): Promise<Cluster> {
  assertBuilt(app)
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(size * 2)
    const members = Array.from({ length: size }, (_, i) => `127.0.0.1:${ports[size + i]}`)
    const nodes = Array.from(
      { length: size },
      (_, i) => new AppNode({ app, route: `node${i + 1}`, port: ports[i]!, clusterPort: ports[size + i]!, members, replication, env }),
    )
    try {
      await Promise.all(nodes.map((n) => n.start()))
    } catch (err) {
      await Promise.all(nodes.map((n) => n.dispose()))
      if (attempt < 3 && err instanceof Error && /EADDRINUSE/.test(err.message)) continue
      throw err
    }
    const cluster: Cluster = {
      nodes,
      byRoute(route) {
        const node = nodes.find((n) => n.route === route)
        if (!node) throw new Error(`no node with route ${route}`)
        return node
      },
      waitMembership: (timeoutMs) => waitMembership(nodes, timeoutMs),
      tails: () => tails(nodes),
      dispose: async () => {
        await Promise.all(nodes.map((n) => n.dispose()))
      },
    }
    // Ready means "state transfer done", not "connected to every static member": wait for the full mesh
    // so the tests start from a steady three-node cluster.
    if (size > 1) {
      try {
        await cluster.waitMembership()
      } catch (err) {
        await cluster.dispose()
        throw err
      }
    }
    return cluster
  }
}
