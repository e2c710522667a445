// The demo's round-robin front: nginx with examples/nginx/round-robin.conf.template when nginx is
// installed, else a small built-in HTTP proxy with the same behaviour (a dead node costs no error).
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, createServer, request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { renderNginxConfig } from '../../nginx/render.js'
import { listenOnLoopback } from './ports.js'

const NGINX_CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']

/** The nginx binary: NGINX_BIN, a usual location, or PATH; undefined when there is none. */
export function findNginx(env = process.env) {
  if (env.NGINX_BIN) return existsSync(env.NGINX_BIN) ? env.NGINX_BIN : undefined
  const found = NGINX_CANDIDATES.find((p) => existsSync(p))
  if (found) return found
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' })
  const path = which.stdout?.trim()
  return which.status === 0 && path ? path : undefined
}

/**
 * examples/nginx/round-robin.conf.template rendered for `nodes` (host:port, three or more). The template
 * names three servers; further nodes are added to the same upstream with the same parameters.
 */
export function roundRobinConfig(listen, nodes) {
  if (nodes.length < 3) throw new Error('the round-robin front needs at least three nodes')
  const [a, b, c, ...more] = nodes
  const config = renderNginxConfig('round-robin', { listen, nodes: [a, b, c] })
  if (more.length === 0) return config
  const third = new RegExp(`^(\\s*)server ${c.replace(/[.]/g, '\\.')}( [^;\\n]*)?;\\n`, 'm')
  const match = third.exec(config)
  if (!match) throw new Error('round-robin template: cannot find the upstream server line to extend')
  const [line, indent, params = ''] = match
  const extra = more.map((n) => `${indent}server ${n}${params}; # added by the demo\n`).join('')
  return config.slice(0, match.index + line.length) + extra + config.slice(match.index + line.length)
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** nginx (no daemon, every path in a fresh temp prefix) on 127.0.0.1:`port` in front of `nodes`. */
export async function startNginxFront({ bin, port, nodes, log }) {
  const prefix = mkdtempSync(join(tmpdir(), 'session-cluster-demo-nginx-'))
  // nginx started as root runs its workers as `nobody`: they must be able to reach the prefix.
  chmodSync(prefix, 0o755)
  const confPath = join(prefix, 'nginx.conf')
  const errorLogPath = join(prefix, 'error.log')
  const listen = `127.0.0.1:${port}`
  writeFileSync(confPath, roundRobinConfig(listen, nodes))
  const child = spawn(bin, ['-p', `${prefix}/`, '-c', confPath, '-e', errorLogPath, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (c) => (stderr += c.toString('utf8')))
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const errorLog = () => (existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : '')
  const cleanup = () => rmSync(prefix, { recursive: true, force: true })

  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      cleanup()
      throw new Error(`nginx exited at startup: ${stderr}${errorLog()}`.trim())
    }
    if (await canConnect(port)) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      cleanup()
      throw new Error(`nginx did not accept on ${listen} within 10 s: ${stderr}${errorLog()}`)
    }
    await new Promise((r) => setTimeout(r, 25))
  }

  return {
    kind: 'nginx',
    describe: `nginx (${bin}, round-robin, config ${confPath})`,
    port,
    pid: child.pid,
    confPath,
    /** Re-render for the current node list and reload nginx (SIGHUP: new workers, no dropped requests). */
    setNodes(list) {
      writeFileSync(confPath, roundRobinConfig(listen, list))
      child.kill('SIGHUP')
      log?.(`nginx: reloaded with ${list.length} nodes`)
    },
    killNow() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM') // fast shutdown: the master stops its workers
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
        await exited
        clearTimeout(timer)
      }
      cleanup()
    },
  }
}

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate',
])
const MAX_BODY = 1 << 20
const FAIL_TIMEOUT_MS = 2_000

/**
 * A round-robin HTTP proxy on 127.0.0.1:`port`, the built-in stand-in for nginx: like the nginx config's
 * `proxy_next_upstream error timeout http_502 http_503` it retries the next node when one refuses the
 * connection (or answers 502/503 while starting), and like `max_fails=1 fail_timeout=2s` it skips a
 * failed node for two seconds. GET/HEAD are retried on any error; other methods only when the connection
 * was refused (nothing was sent).
 */
export async function startBuiltinFront({ port, nodes, log, reason = 'nginx not found' }) {
  let targets = [...nodes]
  let next = 0
  const failedUntil = new Map()
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })

  const server = createServer((req, res) => {
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size > MAX_BODY) {
        res.writeHead(413, { 'content-type': 'text/plain' }).end('request body too large\n')
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => forward(req, res, Buffer.concat(chunks)))
    req.on('error', () => res.destroy())
  })

  function order() {
    const n = targets.length
    const start = next++ % Math.max(n, 1)
    const all = Array.from({ length: n }, (_, i) => targets[(start + i) % n])
    const now = Date.now()
    const healthy = all.filter((t) => (failedUntil.get(t) ?? 0) <= now)
    // Like nginx: when every node is marked failed, try them all anyway.
    return healthy.length > 0 ? [...healthy, ...all.filter((t) => !healthy.includes(t))].slice(0, 3) : all.slice(0, 3)
  }

  function forward(req, res, body) {
    const tries = order()
    const idempotent = req.method === 'GET' || req.method === 'HEAD'
    const headers = {}
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '127.0.0.1'
    headers['x-forwarded-proto'] = 'http'
    headers['content-length'] = String(body.length)
    if (body.length === 0 && !['POST', 'PUT', 'PATCH'].includes(req.method)) delete headers['content-length']
    const tried = []

    const attempt = (i) => {
      const target = tries[i]
      if (!target) {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain', 'x-upstream': tried.join(', ') })
        res.end('502 Bad Gateway: no node answered\n')
        return
      }
      tried.push(target)
      const [host, p] = target.split(':')
      const upstream = request({ host, port: Number(p), method: req.method, path: req.url, headers, agent, timeout: 30_000 }, (up) => {
        if ((up.statusCode === 502 || up.statusCode === 503) && i + 1 < tries.length) {
          failedUntil.set(target, Date.now() + FAIL_TIMEOUT_MS)
          up.resume()
          return attempt(i + 1)
        }
        const out = {}
        for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v
        out['x-upstream'] = tried.join(', ')
        res.writeHead(up.statusCode ?? 502, out)
        up.pipe(res)
        up.on('error', () => res.destroy())
      })
      upstream.on('timeout', () => upstream.destroy(Object.assign(new Error('upstream timed out'), { code: 'ETIMEDOUT' })))
      upstream.on('error', (err) => {
        if (res.headersSent) return res.destroy()
        failedUntil.set(target, Date.now() + FAIL_TIMEOUT_MS)
        const nothingSent = err.code === 'ECONNREFUSED'
        if (idempotent || nothingSent) return attempt(i + 1)
        res.writeHead(502, { 'content-type': 'text/plain', 'x-upstream': tried.join(', ') })
        res.end(`502 Bad Gateway: ${err.code ?? err.message}\n`)
      })
      upstream.end(body)
    }
    attempt(0)
  }

  await listenOnLoopback(server, port)

  return {
    kind: 'builtin',
    describe: `built-in round-robin proxy (${reason})`,
    port,
    pid: process.pid,
    setNodes(list) {
      targets = [...list]
      log?.(`proxy: ${list.length} nodes`)
    },
    killNow() {
      server.closeAllConnections()
    },
    async stop() {
      agent.destroy()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
