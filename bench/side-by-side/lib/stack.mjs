// One configuration's servers: redis-server (connect-redis only), the app nodes, and nginx round-robin in
// front, all on 127.0.0.1 and free ports. start() returns what the harness measures (the server-side
// processes, the nodes' status URLs, the front URL) and a stop() that ends everything it started.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { renderNginxConfig } from '../../../examples/nginx/render.js'
import { fatal, freePorts, makeTempDir, removeTempDir, startProcess, waitFor } from './procs.mjs'

/** Extra node flags for every app process, e.g. `BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'` to profile them. */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const APPS = fileURLToPath(new URL('../apps/', import.meta.url))

/**
 * What each configuration runs. `cluster` configurations start the examples exactly as
 * test/support/app-node.ts does (env PORT, ROUTE, CLUSTER_HOST, CLUSTER_PORT, CLUSTER_MEMBERS, REPLICATION)
 * from the built packages; the others run the comparison apps of ../apps.
 */
export const STORES = {
  memory: { label: 'MemoryStore', nodes: 1 },
  // The floor of any 3-node store: three MemoryStore processes that share nothing, each user pinned to the node
  // that made its session (ids end in the node's route; nginx's sticky config reads it). What 3 processes and
  // nginx cost with no store traffic at all; no failover, so not a deployment, a yardstick.
  unshared: { label: 'MemoryStore x3, sticky, unshared', nodes: 3, nginx: 'sticky', routedIds: true },
  redis: { label: 'connect-redis', nodes: 3, redis: true },
  sync: { label: 'session-cluster sync', nodes: 3, cluster: 'sync' },
  'sync-sticky': { label: 'session-cluster sync, sticky', nodes: 3, cluster: 'sync', nginx: 'sticky' },
  // One node and no peers, in the same app: the library's cost on a request without replication, next to
  // MemoryStore's one process. Not in the default run.
  'sync-1': { label: 'session-cluster sync, 1 node', nodes: 1, cluster: 'sync' },
  // The same in the example app (examples/*-cart): its Prometheus metrics (prom-client's default collectors
  // included), health routes and pages come on top of the library. Not in the default run.
  'sync-example': { label: 'session-cluster sync, example app', nodes: 3, cluster: 'sync', example: true },
  // Where one node's cost goes, next to `memory` and `sync-1` (Fastify only; not in the default run): a store that
  // keeps JSON.stringify(session) in a Map (what any external store costs @fastify/session: a Session rebuilt
  // from a plain object, its id signed again), and session-cluster's ClusterStore under @fastify/session without
  // the plugin's hooks.
  'json-1': { label: 'a JSON-in-a-Map store, 1 process', nodes: 1, appStore: 'json' },
  'store-1': { label: 'session-cluster ClusterStore without the plugin, 1 node', nodes: 1, cluster: 'sync', appStore: 'cluster-store' },
  async: { label: 'session-cluster async', nodes: 3, cluster: 'async' },
  // The primary/backup manager (1 backup: 2 of the 3 nodes hold each session). Behind round-robin a request
  // reaches a non-owner 1 time in 3 and fetches; behind the sticky balancer Tomcat pairs it with, the primary
  // serves every request locally and a write goes to one backup.
  backup: { label: 'session-cluster backup sync', nodes: 3, cluster: 'sync', manager: 'backup' },
  'backup-sticky': { label: 'session-cluster backup sync, sticky', nodes: 3, cluster: 'sync', manager: 'backup', nginx: 'sticky' },
}
export const FRAMEWORKS = {
  express: { example: 'express-cart', app: 'express.mjs', package: 'express' },
  fastify: { example: 'fastify-cart', app: 'fastify.mjs', package: 'fastify' },
}

/** Stop a stack: the app nodes first (they drain through nginx), then nginx and redis, then the temp dirs. */
async function stopAll(stack) {
  await Promise.all(stack.nodes.map((n) => n.proc.stop()))
  await Promise.all([stack.nginx?.proc.stop(), stack.redis?.proc.stop()])
  for (const dir of stack.dirs) removeTempDir(dir)
}

/**
 * Start `framework` x `store` behind nginx. On failure everything already started is stopped, and a start
 * that lost a port race (EADDRINUSE) is retried with new ports.
 */
export async function startStack({ framework, store, tools, connections, clusterSecret, nginxMode = 'round-robin' }) {
  for (let attempt = 1; ; attempt++) {
    const stack = { framework, store, nodes: [], dirs: [], nginx: undefined, redis: undefined }
    try {
      await startInto(stack, { framework, store, tools, connections, clusterSecret, nginxMode })
      return {
        url: stack.nginx.url,
        nodes: stack.nodes,
        // The server side, for CPU and RSS: every app node, redis-server, nginx's master and (children) workers.
        processes: [
          ...stack.nodes.map((n) => ({ role: n.route, pid: n.proc.pid })),
          ...(stack.redis ? [{ role: 'redis', pid: stack.redis.proc.pid }] : []),
          { role: 'nginx', pid: stack.nginx.proc.pid, children: true },
        ],
        stop: () => stopAll(stack),
        /** Servers that exited while they should be serving (their output, for the error message). */
        dead: () =>
          [...stack.nodes.map((x) => [x.route, x.proc]), ['redis', stack.redis?.proc], ['nginx', stack.nginx.proc]]
            .filter(([, proc]) => proc && !proc.alive)
            .map(([name, proc]) => `${name} exited:\n${proc.output()}`),
      }
    } catch (err) {
      await stopAll(stack)
      if (attempt < 3 && /EADDRINUSE|Address already in use/.test(String(err?.message))) continue
      throw err
    }
  }
}

async function startInto(stack, { framework, store, tools, connections, clusterSecret, nginxMode }) {
  const spec = STORES[store]
  const fw = FRAMEWORKS[framework]
  const n = spec.nodes
  // HTTP ports, cluster ports, nginx, redis
  const ports = await freePorts(2 * n + 2)
  const httpPorts = ports.slice(0, n)
  const clusterPorts = ports.slice(n, 2 * n)
  const [nginxPort, redisPort] = ports.slice(2 * n)

  if (spec.redis) {
    const dir = makeTempDir('sc-bench-redis-')
    stack.dirs.push(dir)
    const proc = startProcess('redis', tools.redis, [
      '--port', String(redisPort),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
      '--daemonize', 'no',
    ])
    stack.redis = { proc, port: redisPort }
    await waitFor(`redis-server on :${redisPort}`, async () => {
      if (!proc.alive) throw fatal(`redis-server exited during start-up:\n${proc.output()}`)
      return (await redisPing(redisPort)) ? true : undefined
    }, { timeoutMs: 10_000, describe: () => proc.output() })
  }

  const members = clusterPorts.map((p) => `127.0.0.1:${p}`)
  for (let i = 0; i < n; i++) {
    const route = `node${i + 1}`
    const env = {
      ...process.env,
      PORT: String(httpPorts[i]),
      ROUTE: route,
      CLUSTER_HOST: '127.0.0.1',
      CLUSTER_PORT: String(clusterPorts[i]),
      CLUSTER_MEMBERS: members.join(','),
      ...(clusterSecret ? { CLUSTER_SECRET: clusterSecret } : {}),
    }
    let args
    if (spec.cluster) {
      env.REPLICATION = spec.cluster
      if (spec.manager) env.MANAGER = spec.manager
    }
    if (spec.example) {
      args = [...NODE_ARGS, `examples/${fw.example}/server.js`]
    } else {
      env.STORE = spec.appStore ?? (spec.cluster ? 'cluster' : spec.redis ? 'redis' : 'memory')
      if (spec.routedIds) env.ROUTED_IDS = '1'
      if (spec.redis) env.REDIS_URL = `redis://127.0.0.1:${redisPort}`
      args = [...NODE_ARGS, join(APPS, fw.app)]
    }
    const node = { route, proc: startProcess(route, process.execPath, args, { cwd: REPO_ROOT, env }), url: `http://127.0.0.1:${httpPorts[i]}`, address: `127.0.0.1:${httpPorts[i]}` }
    // The same process again, on the same ports (a restart after a SIGKILL: bench/failover).
    node.restart = () => {
      node.proc = startProcess(route, process.execPath, args, { cwd: REPO_ROOT, env })
      return waitFor(`${route} to report ready again`, async () => {
        const res = await getJson(`${node.url}/cluster/status`).catch(() => undefined)
        return res?.status === 200 ? true : undefined
      }, { timeoutMs: 60_000, describe: () => node.proc.output() })
    }
    stack.nodes.push(node)
  }
  // Ready: /cluster/status 200 (for the examples: state transfer done) ...
  await Promise.all(
    stack.nodes.map((node) =>
      waitFor(`${node.route} (${framework}, ${store}) to report ready`, async () => {
        if (!node.proc.alive) throw fatal(`${node.route} exited during start-up:\n${node.proc.output()}`)
        const res = await getJson(`${node.url}/cluster/status`).catch(() => undefined)
        return res?.status === 200 ? true : undefined
      }, { describe: () => node.proc.output() }),
    ),
  )
  // ... and for session-cluster the full mesh: ready does not mean connected to every member, and a load
  // that starts before would measure the cluster's start-up instead of its steady state.
  if (spec.cluster && n > 1) {
    await waitFor('the cluster membership to settle', async () => {
      for (const node of stack.nodes) {
        const { status, body } = await getJson(`${node.url}/cluster/status`)
        if (status !== 200 || body.members.length !== n - 1 || body.members.some((m) => m.state !== 'alive')) return undefined
      }
      return true
    }, { timeoutMs: 15_000, describe: () => stack.nodes.map((x) => `== ${x.route}\n${x.proc.output(10)}`).join('\n') })
  }

  stack.nginx = await startNginx(stack, { tools, port: nginxPort, nodes: stack.nodes, connections, mode: spec.nginx ?? nginxMode })
}

/**
 * The examples' round-robin config (examples/nginx/render.js, what users get and the e2e tests run), with
 * two benchmark changes said out loud: no access log (disk writes per request are not what is measured),
 * and upstream keepalive raised to the number of load connections, so nginx reuses its connections to the
 * nodes instead of reopening them (the template's 16 would make the 1-process configuration, which takes
 * all 50 connections' requests, churn more than the 3-node ones). One node: one upstream server line.
 */
export function nginxConfig({ listen, nodes, connections, mode = 'round-robin' }) {
  const addresses = nodes.length === 1 ? [nodes[0], nodes[0], nodes[0]] : nodes
  let config = renderNginxConfig(mode, { listen, nodes: addresses, routes: ['node1', 'node2', 'node3'] })
  const replace = (from, to) => {
    if (!config.includes(from)) throw new Error(`examples/nginx/${mode}.conf.template changed: "${from}" not found; update bench/side-by-side/lib/stack.mjs`)
    config = config.replace(from, to)
  }
  replace('access_log access.log;', 'access_log off;')
  replace('keepalive 16;', `keepalive ${Math.max(16, connections)};`)
  if (nodes.length === 1) {
    // The template lists three servers; the same address three times would work but reads as three.
    const lines = config.split('\n')
    const seen = new Set()
    config = lines
      .filter((line) => {
        const m = /^\s*server (\S+) max_fails/.exec(line)
        if (!m) return true
        if (seen.has(m[1])) return false
        seen.add(m[1])
        return true
      })
      .join('\n')
  }
  return config
}

async function startNginx(stack, { tools, port, nodes, connections, mode }) {
  const prefix = makeTempDir('sc-bench-nginx-')
  stack.dirs.push(prefix)
  // nginx started as root runs its workers as `nobody`: they must be able to reach the prefix.
  chmodSync(prefix, 0o755)
  const confPath = join(prefix, 'nginx.conf')
  const errorLog = join(prefix, 'error.log')
  writeFileSync(confPath, nginxConfig({ listen: `127.0.0.1:${port}`, nodes: nodes.map((n) => n.address), connections, mode }))
  const proc = startProcess('nginx', tools.nginx, ['-p', `${prefix}/`, '-c', confPath, '-e', errorLog, '-g', 'daemon off;'])
  const url = `http://127.0.0.1:${port}`
  stack.nginx = { proc, url }
  await waitFor(`nginx on :${port}`, async () => {
    if (!proc.alive) throw fatal(`nginx exited during start-up:\n${proc.output()}`)
    // Through nginx to a node: the whole path works before the load starts.
    const res = await getJson(`${url}/cluster/status`).catch(() => undefined)
    return res?.status === 200 ? true : undefined
  }, { timeoutMs: 10_000, describe: () => proc.output() + (existsSync(errorLog) ? `\n${readFileSync(errorLog, 'utf8')}` : '') })
  return stack.nginx
}

/** GET `url` (no agent keep-alive: the harness's own requests stay out of nginx's pools) as parsed JSON. */
export function getJson(url, timeoutMs = 5_000) {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (body += c))
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(body) })
        } catch (err) {
          reject(new Error(`${url}: ${res.statusCode} not JSON: ${err.message}`))
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)))
    req.on('error', reject)
    req.end()
  })
}

/** One raw PING on a fresh connection: true on +PONG. */
function redisPing(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.setTimeout(1_000)
    let data = ''
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (c) => {
      data += c
      if (data.includes('\r\n')) {
        socket.destroy()
        resolve(data.startsWith('+PONG'))
      }
    })
    socket.on('timeout', () => socket.destroy())
    socket.on('error', () => resolve(false))
    socket.on('close', () => resolve(false))
  })
}
