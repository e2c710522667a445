// The packages as a user gets them: each packed with pnpm (which turns `workspace:` ranges into versions),
// installed with npm into a fresh folder outside the workspace, a strict TypeScript app compiled against them,
// and two-node Express and Fastify clusters run from them on loopback. Needs `pnpm build` first (pnpm test
// builds) and the npm registry (or npm's cache).
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePorts } from '../support/ports.js'
import { waitFor } from '../support/wait.js'

const run = promisify(execFile)
const REPO = new URL('../../', import.meta.url).pathname
const PACKAGES = ['core', 'express', 'fastify', 'prometheus'] as const
const TSC = join(REPO, 'node_modules/typescript/bin/tsc')
/** Every version the app installs is the one the workspace tests with (its lockfile's). */
const versionIn = (pkg: string, name: string) =>
  JSON.parse(readFileSync(join(REPO, 'packages', pkg, 'node_modules', name, 'package.json'), 'utf8')).version as string
/**
 * Packages whose `engines` may disagree with this Node. cookie@2 (Fastify 5's light-my-request and
 * @fastify/cookie >= 11.1.1) declares node >=22 but is an ES module those packages require(), which Node does
 * from 20.19 on: the reason the Fastify package says `^20.19.0 || >=22.12.0`.
 */
const ENGINE_EXCEPTIONS = [/^cookie@2\./]

let root = ''
let app = ''
let installLog = ''
const nodes: ChildProcess[] = []

beforeAll(async () => {
  for (const pkg of PACKAGES) {
    if (!existsSync(join(REPO, 'packages', pkg, 'dist/index.js'))) throw new Error(`packages/${pkg}/dist is missing: run pnpm build`)
  }
  root = mkdtempSync(join(tmpdir(), 'session-cluster-pack-'))
  const tarballs = join(root, 'tarballs')
  app = join(root, 'app')
  mkdirSync(app, { recursive: true })
  for (const pkg of PACKAGES) {
    await run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: join(REPO, 'packages', pkg) })
  }
  const tarball = (pkg: string) => `file:${join(tarballs, readdirSync(tarballs).find((f) => f.includes(`-${pkg}-`))!)}`
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'packed-install-app',
      private: true,
      type: 'module',
      dependencies: {
        '@session-cluster/core': tarball('core'),
        '@session-cluster/express': tarball('express'),
        '@session-cluster/fastify': tarball('fastify'),
        '@session-cluster/prometheus': tarball('prometheus'),
        'prom-client': versionIn('prometheus', 'prom-client'),
        express: versionIn('express', 'express'),
        'express-session': versionIn('express', 'express-session'),
        fastify: versionIn('fastify', 'fastify'),
        '@fastify/session': versionIn('fastify', '@fastify/session'),
        '@fastify/cookie': versionIn('fastify', '@fastify/cookie'),
        '@types/node': JSON.parse(readFileSync(join(REPO, 'node_modules/@types/node/package.json'), 'utf8')).version,
      },
    }),
  )
  const fixture = new URL('./fixture/', import.meta.url).pathname
  for (const file of readdirSync(fixture)) cpSync(join(fixture, file), join(app, file))
  const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'], {
    cwd: app,
    maxBuffer: 16 * 1024 * 1024,
  })
  installLog = install.stdout + install.stderr
}, 300_000)

afterAll(async () => {
  for (const node of nodes) node.kill('SIGKILL')
  if (root && !process.env.KEEP_PACKED_APP) rmSync(root, { recursive: true, force: true })
})

describe('packages packed with pnpm and installed with npm', () => {
  it('hold versions, not workspace ranges, and their license', () => {
    for (const pkg of PACKAGES) {
      const dir = join(app, 'node_modules/@session-cluster', pkg)
      expect(readFileSync(join(dir, 'package.json'), 'utf8')).not.toContain('workspace:')
      expect(existsSync(join(dir, 'LICENSE'))).toBe(true)
    }
  })

  it('share the application’s own framework packages (one copy each)', () => {
    for (const [pkg, peer] of [
      ['express', 'express-session'],
      ['fastify', '@fastify/cookie'],
      ['fastify', '@fastify/session'],
      ['fastify', 'fastify'],
    ]) {
      expect(existsSync(join(app, 'node_modules/@session-cluster', pkg!, 'node_modules', peer!)), `${pkg} has its own ${peer}`).toBe(false)
    }
  })

  it('install without engine warnings beyond the known one', () => {
    const unsupported = [...installLog.matchAll(/EBADENGINE\s+package: '([^']+)'/g)].map((m) => m[1]!)
    expect(unsupported.filter((name) => !ENGINE_EXCEPTIONS.some((known) => known.test(name)))).toEqual([])
  })

  it('type-check a strict TypeScript app (README-style typing included)', async () => {
    await run(process.execPath, [TSC, '-p', join(app, 'tsconfig.json')], { cwd: app }).catch((err) => {
      throw new Error(`tsc failed:\n${err.stdout}${err.stderr}`)
    })
  }, 120_000)

  it('load with require() too', async () => {
    const script = "for (const p of ['core', 'express', 'fastify', 'prometheus']) require('@session-cluster/' + p)"
    await run(process.execPath, ['-e', script], { cwd: app })
  })

  for (const framework of ['express', 'fastify'] as const) {
    it(`run a two-node ${framework} cluster: a session written on one node is read on the other`, async () => {
      const [http1, http2, cluster1, cluster2] = await freePorts(4)
      const members = `127.0.0.1:${cluster1},127.0.0.1:${cluster2}`
      const [one, two] = [
        { port: http1!, route: 'one', clusterPort: cluster1! },
        { port: http2!, route: 'two', clusterPort: cluster2! },
      ].map((node) => startNode(`out/${framework}-node.js`, { ...node, members }))
      for (const node of [one!, two!]) {
        await waitFor(`${framework} node on ${node.port} sees its peer`, async () => {
          const status = await getJson(node.port, '/status').catch(() => undefined)
          return status?.body.ready && status.body.members === 1 ? true : undefined
        }, { timeoutMs: 30_000, describe: () => node.output() })
      }
      const written = await getJson(one!.port, '/write?note=hello')
      const cookie = written.cookie
      expect(cookie, 'the first node sets a session cookie').toMatch(/^sid=/)
      const read = await getJson(two!.port, '/read', cookie)
      expect(read.body).toEqual({ note: 'hello' })
      if (framework === 'express') {
        // @session-cluster/prometheus from its tarball, in the app's own prom-client registry.
        const metrics = await (await fetch(`http://127.0.0.1:${one!.port}/metrics`)).text()
        expect(metrics).toMatch(/^session_cluster_sessions(\{[^}]*\})? 1$/m)
      }
      for (const node of [one!, two!]) node.child.kill('SIGTERM')
    }, 90_000)
  }
})

function startNode(script: string, node: { port: number; route: string; clusterPort: number; members: string }) {
  const env = { ...process.env, PORT: String(node.port), ROUTE: node.route, CLUSTER_PORT: String(node.clusterPort), MEMBERS: node.members }
  const child = spawn(process.execPath, [script], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] })
  nodes.push(child)
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  return { child, port: node.port, output: () => output }
}

async function getJson(port: number, path: string, cookie?: string) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: cookie ? { cookie } : {} })
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
  return { body: (await res.json()) as Record<string, unknown>, cookie: res.headers.getSetCookie()[0]?.split(';')[0] }
}
