import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
// The examples' own renderer: the tests run exactly the configs users get.
import { renderNginxConfig } from '../../examples/nginx/render.js'
import { freePort } from './ports.js'
import { waitFor } from './wait.js'

export type NginxMode = 'round-robin' | 'sticky'

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']

/** Path of the nginx binary (NGINX_BIN, the Debian package's /usr/sbin/nginx, or PATH), or undefined. */
export function findNginx(): string | undefined {
  if (process.env.NGINX_BIN) return existsSync(process.env.NGINX_BIN) ? process.env.NGINX_BIN : undefined
  const found = CANDIDATES.find((p) => existsSync(p))
  if (found) return found
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' })
  const path = which.stdout.trim()
  return which.status === 0 && path ? path : undefined
}

export const NGINX_MISSING =
  'nginx is not installed (looked for NGINX_BIN, /usr/sbin/nginx and PATH). Install it: `apt-get install -y nginx` (.ci/run does).'

/**
 * How a suite should treat a missing nginx: in CI (process.env.CI set) the e2e tests must fail, elsewhere
 * they are skipped with a loud message.
 */
export function nginxAvailability(): { nginx: string | undefined; skip: boolean; failInCi: boolean } {
  const nginx = findNginx()
  if (nginx) return { nginx, skip: false, failInCi: false }
  if (process.env.CI) return { nginx, skip: true, failInCi: true }
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPING nginx end-to-end tests: ${NGINX_MISSING}\n${'!'.repeat(78)}\n`)
  return { nginx, skip: true, failInCi: false }
}

export interface Nginx {
  url: string
  port: number
  prefix: string
  config: string
  errorLog(): string
  stop(): Promise<void>
}

/**
 * A private nginx (no daemon, every path in a fresh temp dir) in front of `nodes`, listening on a free
 * loopback port; resolves once it accepts connections. Retries on a port taken meanwhile.
 */
export async function startNginx({
  mode,
  nodes,
  routes = nodes.map((_, i) => `node${i + 1}`),
  edit,
}: {
  mode: NginxMode
  nodes: string[]
  routes?: string[]
  /** Change the rendered config before nginx runs it (a test that needs one directive otherwise). */
  edit?: (config: string) => string
}): Promise<Nginx> {
  const bin = findNginx()
  if (!bin) throw new Error(NGINX_MISSING)
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const prefix = mkdtempSync(join(tmpdir(), `session-cluster-nginx-${mode}-`))
    // nginx started as root runs its workers as `nobody`: they must be able to reach the temp paths.
    chmodSync(prefix, 0o755)
    const rendered = renderNginxConfig(mode, { listen: `127.0.0.1:${port}`, nodes, routes })
    const config = edit ? edit(rendered) : rendered
    const confPath = join(prefix, 'nginx.conf')
    const errorLogPath = join(prefix, 'error.log')
    writeFileSync(confPath, config)
    const child: ChildProcess = spawn(bin, ['-p', `${prefix}/`, '-c', confPath, '-e', errorLogPath, '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const errorLog = () => (existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : '')
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM') // fast shutdown; the master stops its workers
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
        await exited
        clearTimeout(timer)
      }
      rmSync(prefix, { recursive: true, force: true })
    }
    try {
      await waitFor(
        `nginx (${mode}) to accept on 127.0.0.1:${port}`,
        async () => {
          if (child.exitCode !== null) throw new Error(`nginx exited (code ${child.exitCode}): ${stderr}${errorLog()}`)
          return (await canConnect(port)) ? true : undefined
        },
        { timeoutMs: 10_000, intervalMs: 25, describe: () => `${stderr}${errorLog()}`, rethrow: (e) => e instanceof Error && e.message.startsWith('nginx exited') },
      )
    } catch (err) {
      const text = `${stderr}${errorLog()}`
      await stop()
      if (attempt < 3 && /Address already in use/.test(text)) continue
      throw err
    }
    return { url: `http://127.0.0.1:${port}`, port, prefix, config, errorLog, stop }
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** `nginx -t` on a rendered config in a temp prefix; returns nginx's output and whether it passed. */
export function testNginxConfig(config: string): { ok: boolean; output: string } {
  const bin = findNginx()
  if (!bin) throw new Error(NGINX_MISSING)
  const prefix = mkdtempSync(join(tmpdir(), 'session-cluster-nginx-t-'))
  try {
    const confPath = join(prefix, 'nginx.conf')
    writeFileSync(confPath, config)
    const r = spawnSync(bin, ['-t', '-p', `${prefix}/`, '-c', confPath, '-e', join(prefix, 'error.log'), '-g', 'daemon off;'], { encoding: 'utf8' })
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` }
  } finally {
    rmSync(prefix, { recursive: true, force: true })
  }
}
