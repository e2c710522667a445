// Child processes the harness starts, and what they cost: CPU time and RSS read from /proc.
//
// Every process and temp dir goes through this module, so one cleanup() can end everything the harness
// started (by PID, never by name) on success, on a failed step, and on SIGINT/SIGTERM.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------------------
// Tracked processes and temp dirs

const running = new Set() // Proc objects whose process has not exited yet
const tempDirs = new Set()

/**
 * Spawn `command` and track it until it exits. Output is kept (last 200 lines) for error messages, and echoed
 * with a prefix when BENCH_VERBOSE is set.
 */
export function startProcess(name, command, args, { env, cwd } = {}) {
  const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = []
  const collect = (chunk) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue
      lines.push(line)
      if (process.env.BENCH_VERBOSE) console.log(`  [${name}] ${line}`)
    }
    if (lines.length > 200) lines.splice(0, lines.length - 200)
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  let spawnError
  const proc = {
    name,
    child,
    pid: child.pid,
    // A spawn failure (ENOENT) arrives as 'error', maybe without 'exit': either one ends the process.
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }))
      child.once('error', (err) => {
        spawnError = err
        lines.push(`spawn error: ${err.message}`)
        resolve({ code: null, signal: null, error: err })
      })
    }),
    get alive() {
      return spawnError === undefined && child.exitCode === null && child.signalCode === null
    },
    output: (n = 30) => lines.slice(-n).join('\n'),
    stop: (graceMs) => stopProcess(proc, graceMs),
  }
  running.add(proc)
  proc.exited.then(() => running.delete(proc))
  return proc
}

/** SIGTERM (each server's graceful stop), then SIGKILL if it is still there after `graceMs`. */
export async function stopProcess(proc, graceMs = 5_000) {
  if (!proc.alive) return proc.exited
  proc.child.kill('SIGTERM')
  const timer = setTimeout(() => proc.alive && proc.child.kill('SIGKILL'), graceMs)
  const result = await proc.exited
  clearTimeout(timer)
  return result
}

export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

/** Stop every tracked process (in parallel) and remove every temp dir. Safe to call more than once. */
export async function cleanup() {
  await Promise.all([...running].map((p) => stopProcess(p, 3_000)))
  for (const dir of [...tempDirs]) removeTempDir(dir)
}

/** Last resort on process exit (synchronous: no awaiting there): SIGKILL what is left, remove temp dirs. */
export function cleanupSync() {
  for (const p of running) if (p.alive) p.child.kill('SIGKILL')
  for (const dir of [...tempDirs]) removeTempDir(dir)
}

// ---------------------------------------------------------------------------------------------------------
// CPU time and memory from /proc

// utime and stime are in clock ticks (USER_HZ); 100 on every Linux we know of, but ask.
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces and parentheses). */
function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return text.slice(text.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined // the process is gone
  }
}

/** utime + stime of `pid` (all its threads: the kernel sums them) in microseconds, or undefined if gone. */
export function cpuMicros(pid) {
  const f = statFields(pid)
  // After ")": [0] state, [1] ppid, ... [11] utime, [12] stime (fields 14 and 15 of proc(5)).
  return f ? ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK : undefined
}

/**
 * What a process spent, to tell user-space work from the kernel's and from wake-ups: user and system CPU in
 * microseconds, voluntary context switches (it slept, e.g. waiting in epoll) and involuntary ones (preempted).
 * Undefined if gone.
 */
export function usage(pid) {
  const f = statFields(pid)
  if (!f) return undefined
  let status
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  const switches = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return {
    user: (Number(f[11]) * 1e6) / CLK_TCK,
    system: (Number(f[12]) * 1e6) / CLK_TCK,
    voluntary: switches('voluntary_ctxt_switches'),
    involuntary: switches('nonvoluntary_ctxt_switches'),
  }
}

/** Direct children of `pid` (nginx's workers), by scanning /proc for their parent id. */
export function childPids(pid) {
  const out = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const f = statFields(entry)
    if (f && Number(f[1]) === pid) out.push(Number(entry))
  }
  return out
}

/** VmRSS of `pid` in bytes, or undefined if gone. */
export function rssBytes(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/**
 * CPU microseconds per PID right now, for `procs` ({role, pid, children?}): with children set (nginx's
 * master), its current children are included under `${role}-worker`.
 */
export function cpuSnapshot(procs) {
  const snap = new Map()
  for (const p of procs) {
    snap.set(p.pid, { role: p.role, us: cpuMicros(p.pid) ?? 0 })
    if (p.children) for (const c of childPids(p.pid)) snap.set(c, { role: `${p.role}-worker`, us: cpuMicros(c) ?? 0 })
  }
  return snap
}

/** Per-process CPU spent between two snapshots; a process that appeared meanwhile counts from zero. */
export function cpuDelta(before, after) {
  return [...after].map(([pid, { role, us }]) => ({ pid, role, us: us - (before.get(pid)?.us ?? 0) }))
}

// ---------------------------------------------------------------------------------------------------------
// Ports and tools

const handedOut = new Set()

/**
 * A TCP port on 127.0.0.1 the OS reports free right now (test/support/ports.ts's approach: listen on port 0,
 * close, hand the number out once). Another process may still take it before our server binds it: the
 * harness retries a configuration whose start failed with EADDRINUSE.
 */
export async function freePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const server = createServer()
      server.unref()
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const { port: p } = server.address()
        server.close(() => resolve(p))
      })
    })
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('freePort: the OS keeps returning ports this process already handed out')
}

export async function freePorts(n) {
  const ports = []
  for (let i = 0; i < n; i++) ports.push(await freePort())
  return ports
}

/** Absolute path of a tool: the first existing candidate, else what `command -v` finds, else undefined. */
export function findTool(name, candidates = []) {
  const found = candidates.find((p) => existsSync(p))
  if (found) return found
  const which = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' })
  const path = which.stdout?.trim()
  return which.status === 0 && path ? path : undefined
}

/** Poll `probe` until it returns something other than undefined; fail after `timeoutMs` with `describe()`. */
export async function waitFor(what, probe, { timeoutMs = 30_000, intervalMs = 50, describe } = {}) {
  const deadline = Date.now() + timeoutMs
  let lastError
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (err) {
      if (err?.fatal) throw err
      lastError = err
    }
    if (Date.now() >= deadline) {
      const cause = lastError ? ` (last error: ${lastError.message})` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${describe ? `\n${describe()}` : ''}`)
    }
    await sleep(intervalMs)
  }
}

/** An error waitFor() does not retry (a process that exited during start-up). */
export function fatal(message) {
  return Object.assign(new Error(message), { fatal: true })
}
