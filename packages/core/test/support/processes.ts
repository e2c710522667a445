import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('../fixtures/cluster-node.mjs', import.meta.url))

/** A cluster node in a child process (real TCP on loopback), commanded over IPC. */
export interface NodeProcess {
  route: string
  port: number
  child: ChildProcess
  call<T = unknown>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>
  kill(signal?: NodeJS.Signals): Promise<void>
}

export async function startNode(route: string, options: Record<string, unknown>, { readyTimeoutMs = 60_000, execArgv = [] as string[] } = {}): Promise<NodeProcess> {
  const child = fork(script, [], {
    env: { ...process.env, CLUSTER_OPTIONS: JSON.stringify({ route, host: '127.0.0.1', port: 0, ...options }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
  })
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  let nextId = 1
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const ready = new Promise<{ port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${route} not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs)
    child.once('exit', (code) => reject(new Error(`${route} exited with ${code} before it was ready`)))
    child.on('message', (m: { event?: string; port?: number; id?: number; result?: unknown; error?: string }) => {
      if (m.event === 'ready') {
        clearTimeout(timer)
        resolve({ port: m.port! })
        return
      }
      const p = m.id === undefined ? undefined : pending.get(m.id)
      if (!p) return
      pending.delete(m.id!)
      if (m.error) p.reject(new Error(m.error))
      else p.resolve(m.result)
    })
  })
  child.once('exit', () => {
    for (const p of pending.values()) p.reject(new Error(`${route} exited`))
    pending.clear()
  })
  const { port } = await ready
  return {
    route,
    port,
    child,
    call<T>(cmd: string, args?: unknown, timeoutMs = 120_000) {
      return new Promise<T>((resolve, reject) => {
        const id = nextId++
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`${route}: ${cmd} timed out`))
        }, timeoutMs)
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer)
            resolve(v as T)
          },
          reject: (e) => {
            clearTimeout(timer)
            reject(e)
          },
        })
        child.send({ id, cmd, args })
      })
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

/** Poll `check` until it returns true or the deadline passes (bounded, for real-time multi-process tests). */
export async function eventually(check: () => Promise<boolean> | boolean, { timeoutMs = 20_000, intervalMs = 50 } = {}): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  return check()
}
