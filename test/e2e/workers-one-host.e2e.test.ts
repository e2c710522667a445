// Workers on one host with no ports or members configured (CLUSTER_DISCOVERY=local): the Express example under PM2's
// cluster mode (PM2 owns the master process and balances the HTTP port) and under plain node:cluster. Each worker
// binds its own cluster port of a range and finds its siblings by probing it. A worker SIGKILLed and re-forked
// loses nothing: every session is back, complete, on every worker, the new one included.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, CookieJar, freePort, freePortRange, HttpClient, REPO_ROOT, type StatusBody, waitFor } from '../support/index.js'

const run = promisify(execFile)
const WORKERS = 4
const USERS = 12
const ITEMS = ['apple', 'pear', 'plum']

/** Options shared by both launchers: fast failure detection so a killed worker is noticed in about a second. */
function workerEnv(httpPort: number, clusterPort: number): Record<string, string> {
  return {
    PORT: String(httpPort),
    CLUSTER_DISCOVERY: 'local',
    CLUSTER_PORT: String(clusterPort),
    CLUSTER_AUTO_BIND: String(WORKERS * 2),
    CLUSTER_HEARTBEAT_INTERVAL_MS: '200',
    CLUSTER_SUSPECT_TIMEOUT_MS: '1500',
    CLUSTER_VERIFY_TIMEOUT_MS: '600',
  }
}

/** One request on a connection of its own: the balancer hands each new connection to the next worker. */
async function getOnce(base: string, path: string, jar = new CookieJar()) {
  const client = new HttpClient(base, { jar })
  try {
    return await client.get(path)
  } finally {
    client.close()
  }
}

/** Until `count` distinct workers answered ready, each seeing every other one alive and ready. */
async function waitWorkersMeshed(base: string, count: number, describe: () => string): Promise<Map<string, StatusBody>> {
  return waitFor(
    `${count} workers to answer ready and see each other`,
    async () => {
      const seen = new Map<string, StatusBody>()
      for (let i = 0; i < count * 3; i++) {
        const res = await getOnce(base, '/cluster/status').catch(() => undefined)
        if (res?.status !== 200) return undefined
        const body = res.json<StatusBody>()
        seen.set(body.route, body)
      }
      if (seen.size !== count) return undefined
      for (const body of seen.values()) {
        if (body.members.length !== count - 1 || body.members.some((m) => m.state !== 'alive' || m.ready === false)) return undefined
      }
      return seen
    },
    { timeoutMs: 30_000, intervalMs: 200, describe },
  )
}

/** The scenario both launchers run: users fill carts across workers, a worker is SIGKILLed and re-forked, nothing is lost. */
async function killOneWorkerLosesNothing(base: string, workerPids: () => Promise<number[]>, output: () => string): Promise<void> {
  const before = await waitWorkersMeshed(base, WORKERS, output)
  expect(new Set([...before.values()].map((s) => s.address)).size).toBe(WORKERS) // each worker on its own cluster port

  // Every item is added on a new connection, so on another worker than the one before it (sync replication).
  const jars = Array.from({ length: USERS }, () => new CookieJar())
  for (const jar of jars) {
    for (const item of ITEMS) expect((await getOnce(base, `/cart?add=${item}`, jar)).status).toBe(200)
  }
  const routesWritten = new Set<string>()
  for (const jar of jars) {
    const res = await getOnce(base, '/cart', jar)
    expect(res.json<{ items: string[] }>().items).toEqual(ITEMS)
    routesWritten.add(res.json<{ node: string }>().node)
  }
  expect(routesWritten.size).toBeGreaterThan(1)

  const pids = await workerPids()
  expect(pids).toHaveLength(WORKERS)
  const victim = pids[1]!
  process.kill(victim, 'SIGKILL')
  await waitFor(
    'the killed worker to be replaced',
    async () => {
      const now = await workerPids()
      return now.length === WORKERS && !now.includes(victim) ? now : undefined
    },
    { timeoutMs: 20_000, intervalMs: 100, describe: output },
  )
  const after = await waitWorkersMeshed(base, WORKERS, output)
  const newcomer = [...after.values()].find((s) => ![...before.values()].some((b) => b.memberId === s.memberId))
  expect(newcomer, 'a new incarnation among the workers').toBeDefined()
  expect(newcomer?.sessions).toBe(USERS) // it pulled every session from its siblings

  // Every cart, complete, from every worker (reads on new connections go round the workers).
  const answeredBy = new Set<string>()
  for (const jar of jars) {
    for (let i = 0; i < WORKERS; i++) {
      const res = await getOnce(base, '/cart', jar)
      expect(res.status).toBe(200)
      const body = res.json<{ node: string; items: string[] }>()
      expect(body.items).toEqual(ITEMS)
      answeredBy.add(body.node)
    }
  }
  expect(answeredBy.size).toBe(WORKERS)
}

describe('PM2 cluster mode (-i 4) without Redis', () => {
  const pm2 = join(REPO_ROOT, 'node_modules/.bin/pm2')
  const home = mkdtempSync(join(tmpdir(), 'pm2-home-'))
  const name = `cart-${process.pid}`
  let base = ''
  const pm2Env = () => ({ ...process.env, PM2_HOME: home })

  beforeAll(async () => {
    assertBuilt('express-cart')
    const httpPort = await freePort()
    base = `http://127.0.0.1:${httpPort}`
    await run(pm2, ['start', 'examples/express-cart/server.js', '-i', String(WORKERS), '--name', name, '--kill-timeout', '6000'], {
      cwd: REPO_ROOT,
      env: { ...pm2Env(), ...workerEnv(httpPort, await freePortRange(WORKERS * 2 + 1)) },
    })
  }, 60_000)

  afterAll(async () => {
    await run(pm2, ['kill'], { env: pm2Env() }).catch(() => undefined)
    rmSync(home, { recursive: true, force: true })
  }, 30_000)

  const pids = async () => {
    const { stdout } = await run(pm2, ['jlist'], { env: pm2Env(), maxBuffer: 64 * 1024 * 1024 })
    const list = JSON.parse(stdout) as Array<{ pid: number; name: string; pm2_env: { status: string } }>
    return list.filter((p) => p.name === name && p.pm2_env.status === 'online' && p.pid > 0).map((p) => p.pid)
  }
  const logs = () => `(PM2 logs in ${home}/logs)`

  it('workers share sessions behind PM2 balancer; a SIGKILLed worker is restarted by PM2 and loses nothing', async () => {
    await killOneWorkerLosesNothing(base, pids, logs)
  }, 90_000)
})

describe('node:cluster (examples/express-cart/cluster.js)', () => {
  let primary: ChildProcess | undefined
  const output: string[] = []
  const workers = new Map<number, number>() // worker id → pid, from the primary's log
  let base = ''

  beforeAll(async () => {
    assertBuilt('express-cart')
    const httpPort = await freePort()
    base = `http://127.0.0.1:${httpPort}`
    primary = spawn(process.execPath, ['examples/express-cart/cluster.js'], {
      cwd: REPO_ROOT,
      env: { ...process.env, WORKERS: String(WORKERS), ...workerEnv(httpPort, await freePortRange(WORKERS * 2 + 1)) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue
        output.push(line)
        const online = /^worker (\d+) pid (\d+) online/.exec(line)
        if (online) workers.set(Number(online[1]), Number(online[2]))
        const exited = /^worker (\d+) pid \d+ exited/.exec(line)
        if (exited) workers.delete(Number(exited[1]))
      }
    }
    primary.stdout?.on('data', collect)
    primary.stderr?.on('data', collect)
  })

  afterAll(async () => {
    if (!primary || primary.exitCode !== null) return
    const exited = new Promise((resolve) => primary?.once('exit', resolve))
    primary.kill('SIGTERM')
    const timer = setTimeout(() => primary?.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
    for (const pid of workers.values()) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }, 20_000)

  it('workers share sessions behind the primary; a SIGKILLed worker is forked again and loses nothing', async () => {
    await killOneWorkerLosesNothing(base, async () => [...workers.values()], () => output.slice(-40).join('\n'))
  }, 90_000)
})
