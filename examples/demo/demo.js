#!/usr/bin/env node
// `pnpm demo`: three example nodes (examples/express-cart, REPLICATION=sync) on loopback, a round-robin
// front (nginx when installed, else a built-in proxy) and a dashboard to watch, kill, restart and add
// nodes while your cart survives. Ctrl-C stops everything this process started.
//
// Environment (all optional):
//   DEMO_PORT            the front's port (cart URL)               default 8080, or a free port if taken
//   DEMO_DASHBOARD_PORT  the dashboard's port                      default DEMO_PORT+1, or a free port
//   DEMO_NODE_PORT       first node HTTP port (then +1, +2...)     default: free ports
//   DEMO_CLUSTER_PORT    first node cluster port (then +1, +2...)  default: free ports
//   DEMO_NODES           nodes at start (>= 3)                     default 3
//   DEMO_APP             express-cart | fastify-cart               default express-cart
//   DEMO_REPLICATION     sync | async                              default sync
//   DEMO_FRONT           auto | nginx | builtin                    default auto (nginx if found)
//   NGINX_BIN            the nginx binary                          default /usr/sbin/nginx or PATH
//   DEMO_QUIET=1         do not echo the nodes' output
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startControlServer } from './lib/control.js'
import { findNginx, startBuiltinFront, startNginxFront } from './lib/front.js'
import { DemoNode, describeNode, REPO_ROOT } from './lib/nodes.js'
import { freePort, isPortFree, nextFreePortFrom, portFromEnv, reservePort } from './lib/ports.js'

const APPS = { 'express-cart': 'express', 'fastify-cart': 'fastify' }
const MAX_NODES = 12

export class Demo {
  constructor(options) {
    this.options = options
    /** @type {DemoNode[]} */
    this.nodes = []
    this.front = undefined
    this.control = undefined
    this.events = []
    this.cartAnswers = []
    this.queue = Promise.resolve()
    this.stopping = false
    // The demo's cluster traffic is encrypted and authenticated like a real deployment's: one secret per run.
    this.secret = randomBytes(24).toString('base64url')
    /** Cluster events seen so far (from every node's status), by identity. */
    this.clusterEvents = new Map()
  }

  log(text) {
    this.events.push({ at: Date.now(), text })
    if (this.events.length > 100) this.events.splice(0, this.events.length - 100)
    console.log(`[demo] ${text}`)
  }

  node(route) {
    return this.nodes.find((n) => n.route === route)
  }

  /** host:port of every node's cluster endpoint: the CLUSTER_MEMBERS every node starts with. */
  members() {
    return this.nodes.map((n) => n.clusterAddress)
  }

  async allocatePorts(index) {
    const { nodePort, clusterPort } = this.options
    const http = nodePort ? await nextFreePortFrom(nodePort + index) : await freePort()
    const cluster = clusterPort ? await nextFreePortFrom(clusterPort + index) : await freePort()
    return { http, cluster }
  }

  async createNode() {
    const index = this.nodes.length
    const ports = await this.allocatePorts(index)
    const node = new DemoNode({
      app: this.options.app,
      route: `node${index + 1}`,
      port: ports.http,
      clusterPort: ports.cluster,
      replication: this.options.replication,
      env: { CLUSTER_SECRET: this.secret },
      onLine: (n, line) => {
        if (this.options.quiet) return
        const prefix = `[${n.route}] `
        console.log(line.startsWith(prefix) ? line : prefix + line)
      },
    })
    this.nodes.push(node)
    return node
  }

  spawn(node) {
    const pid = node.start(this.members())
    const exited = node.exited
    exited.then(({ code, signal }) => {
      if (this.stopping) return
      if (node.killedBy) this.log(`${node.route} exited (${signal ?? `code ${code}`})`)
      else this.log(`${node.route} exited unexpectedly (${signal ?? `code ${code}`}):\n${node.tail(5)}`)
    })
    return pid
  }

  /** Start the initial nodes together (they find each other) and wait until every one is ready. */
  async startNodes(count) {
    for (let i = 0; i < count; i++) await this.createNode()
    for (const node of this.nodes) this.spawn(node)
    await Promise.all(this.nodes.map((n) => n.waitReady(30_000)))
    this.log(`${count} nodes ready: ${this.nodes.map((n) => n.route).join(', ')}`)
  }

  async startFront() {
    const { frontPort, frontKind, nginxBin } = this.options
    const nodes = this.nodes.map((n) => n.httpAddress)
    const log = (t) => this.log(t)
    if (frontKind === 'nginx') {
      this.front = await startNginxFront({ bin: nginxBin, port: frontPort, nodes, log })
    } else {
      this.front = await startBuiltinFront({ port: frontPort, nodes, log, reason: this.options.frontWanted === 'builtin' ? 'DEMO_FRONT=builtin' : 'nginx not found' })
    }
  }

  /** Serialize control actions so a kill and a restart of the same node never interleave. */
  serial(fn) {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return run
  }

  act(route, verb) {
    return this.serial(async () => {
      const node = this.node(route)
      if (!node) throw new Error(`no node ${route}`)
      if (verb === 'kill') {
        if (!node.running) return { note: `${route} was not running` }
        const pid = node.pid
        this.log(`SIGKILL ${route} (pid ${pid})`)
        await node.kill()
        return { pid }
      }
      if (verb === 'stop') {
        if (!node.running) return { note: `${route} was not running` }
        this.log(`SIGTERM ${route} (pid ${node.pid}): graceful stop`)
        await node.stop()
        return {}
      }
      if (verb === 'restart') {
        if (node.running) {
          this.log(`restart ${route}: SIGTERM first`)
          await node.stop()
        }
        const pid = this.spawn(node)
        this.log(`started ${route} (pid ${pid}) on :${node.spec.port}, cluster :${node.spec.clusterPort}`)
        return { pid }
      }
      throw new Error(`unknown action ${verb}`)
    })
  }

  /** A new node on new ports that lists every existing node as a member; the front learns it at once. */
  addNode() {
    return this.serial(async () => {
      if (this.nodes.length >= MAX_NODES) throw new Error(`the demo stops at ${MAX_NODES} nodes`)
      const node = await this.createNode()
      const pid = this.spawn(node)
      this.log(`added ${node.route} (pid ${pid}) on :${node.spec.port}, cluster :${node.spec.clusterPort}, members ${this.members().join(',')}`)
      this.front.setNodes(this.nodes.map((n) => n.httpAddress))
      return node
    })
  }

  recordCartAnswer(record) {
    this.cartAnswers.push(record)
    if (this.cartAnswers.length > 20) this.cartAnswers.splice(0, this.cartAnswers.length - 20)
  }

  /**
   * What the nodes say happened, merged: each node's recent events (joined, suspected, removed, fenced, state
   * transfer done, rejected for a wrong secret...) as seen by that node. Kept here too, so the events of a node
   * that was killed stay on the page.
   */
  collectClusterEvents(nodes) {
    for (const n of nodes) {
      for (const e of n.events) {
        const key = `${n.route}|${e.at}|${e.kind}|${e.address ?? ''}`
        if (!this.clusterEvents.has(key)) this.clusterEvents.set(key, { ...e, observer: n.route })
      }
    }
    const all = [...this.clusterEvents.values()].sort((a, b) => a.at - b.at)
    if (all.length > 200) for (const e of all.splice(0, all.length - 200)) this.clusterEvents.delete(`${e.observer}|${e.at}|${e.kind}|${e.address ?? ''}`)
    return all.slice(-60)
  }

  async snapshot() {
    const nodes = await Promise.all(this.nodes.map((n) => describeNode(n)))
    // Where each session lives: session reference -> the nodes that hold it.
    const sessions = new Map()
    for (const n of nodes) for (const ref of n.sessionRefs ?? []) sessions.set(ref, [...(sessions.get(ref) ?? []), n.route])
    return {
      app: this.options.app,
      replication: this.options.replication,
      secured: true,
      front: { kind: this.front.kind, describe: this.front.describe, port: this.front.port, url: `http://127.0.0.1:${this.front.port}/` },
      dashboard: { port: this.control?.port },
      nodes: nodes.map(({ events, ...n }) => n),
      live: nodes.filter((n) => n.state === 'up').length,
      clusterEvents: this.collectClusterEvents(nodes),
      sessions: [...sessions].map(([ref, holders]) => ({ ref, holders })),
      events: this.events.slice(-30),
      now: Date.now(),
    }
  }

  /** Stop everything: dashboard, nodes (SIGTERM, SIGKILL after 6 s), front. */
  async shutdown() {
    this.stopping = true
    await this.control?.stop().catch(() => undefined)
    await Promise.all(this.nodes.map((n) => n.stop().catch(() => n.killNow())))
    await this.front?.stop().catch(() => this.front?.killNow())
  }

  /** Synchronous last resort (process 'exit'): nothing this process started may outlive it. */
  killNow() {
    for (const n of this.nodes) n.killNow()
    this.front?.killNow()
  }
}

async function options(env) {
  const app = env.DEMO_APP || 'express-cart'
  if (!APPS[app]) throw new Error(`DEMO_APP must be one of ${Object.keys(APPS).join(', ')}, got "${app}"`)
  const replication = env.DEMO_REPLICATION || 'sync'
  if (!['sync', 'async'].includes(replication)) throw new Error(`DEMO_REPLICATION must be sync or async, got "${replication}"`)
  const count = env.DEMO_NODES ? Number(env.DEMO_NODES) : 3
  if (!Number.isInteger(count) || count < 3 || count > MAX_NODES) throw new Error(`DEMO_NODES must be 3..${MAX_NODES}, got "${env.DEMO_NODES}"`)

  const frontWanted = env.DEMO_FRONT || 'auto'
  if (!['auto', 'nginx', 'builtin'].includes(frontWanted)) throw new Error(`DEMO_FRONT must be auto, nginx or builtin, got "${frontWanted}"`)
  const nginxBin = frontWanted === 'builtin' ? undefined : findNginx(env)
  if (frontWanted === 'nginx' && !nginxBin) throw new Error('DEMO_FRONT=nginx but nginx was not found (NGINX_BIN, /usr/sbin/nginx, PATH)')
  const frontKind = nginxBin ? 'nginx' : 'builtin'

  // Explicit ports must be free; defaults fall back to a free port.
  const explicit = async (name, port) => {
    if (!(await isPortFree(port))) throw new Error(`${name}=${port}: that port is in use on 127.0.0.1`)
    reservePort(port)
    return port
  }
  const preferred = async (port) => {
    if (port <= 65535 && (await isPortFree(port))) {
      reservePort(port)
      return port
    }
    return freePort()
  }
  const envFront = portFromEnv(env, 'DEMO_PORT')
  const frontPort = envFront ? await explicit('DEMO_PORT', envFront) : await preferred(8080)
  const envDash = portFromEnv(env, 'DEMO_DASHBOARD_PORT')
  const dashboardPort = envDash ? await explicit('DEMO_DASHBOARD_PORT', envDash) : await preferred(frontPort + 1)
  return {
    app,
    replication,
    count,
    frontKind,
    frontWanted,
    nginxBin,
    frontPort,
    dashboardPort,
    nodePort: portFromEnv(env, 'DEMO_NODE_PORT'),
    clusterPort: portFromEnv(env, 'DEMO_CLUSTER_PORT'),
    quiet: Boolean(env.DEMO_QUIET),
  }
}

function assertBuilt(app) {
  const pkg = APPS[app]
  const dist = `${REPO_ROOT}packages/${pkg}/dist/index.js`
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`pnpm build\` first (\`pnpm demo\` does)`)
  const link = `${REPO_ROOT}examples/${app}/node_modules/@session-cluster/${pkg}`
  if (!existsSync(link)) throw new Error(`${link} is missing: run \`pnpm install\``)
}

async function main() {
  let opts
  try {
    opts = await options(process.env)
    assertBuilt(opts.app)
  } catch (err) {
    console.error(`demo: ${err.message}`)
    process.exit(2)
  }
  const demo = new Demo(opts)
  process.on('exit', () => demo.killNow())

  let stopping = false
  const stop = async (signal) => {
    if (stopping) {
      console.log(`[demo] ${signal} again: killing everything now`)
      demo.killNow()
      process.exit(1)
    }
    stopping = true
    console.log(`\n[demo] ${signal}: stopping the nodes and the front...`)
    await demo.shutdown()
    console.log('[demo] stopped')
    process.exit(0)
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGHUP', () => stop('SIGHUP'))

  try {
    console.log(`[demo] starting ${opts.count} ${opts.app} nodes (REPLICATION=${opts.replication})...`)
    await demo.startNodes(opts.count)
    await demo.startFront()
    demo.control = await startControlServer({ demo, port: opts.dashboardPort })
  } catch (err) {
    console.error(`demo: failed to start: ${err.message}`)
    await demo.shutdown().catch(() => demo.killNow())
    process.exit(1)
  }

  const front = `http://127.0.0.1:${opts.frontPort}/`
  const dashboard = `http://127.0.0.1:${opts.dashboardPort}/`
  const lines = [
    '',
    `session-cluster demo: ${opts.count} ${opts.app} nodes, REPLICATION=${opts.replication}, front: ${demo.front.describe}`,
    '',
    `  Cart (through the front):  ${front}`,
    `  Dashboard:                 ${dashboard}`,
    '',
    ...demo.nodes.map((n) => `  ${n.route}: ${n.url}  cluster ${n.clusterAddress}  pid ${n.pid}`),
    '',
    'Open the cart, add items, then kill the node that served you on the dashboard: the cart stays.',
    'Ctrl-C stops everything.',
    '',
  ]
  console.log(lines.join('\n'))
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
