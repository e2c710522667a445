// Load generation with wrk and cart.lua: one connection per thread, so every connection is one user with its
// own session cookie. wrk (C, one epoll loop per thread) takes far less CPU per request than a Node load
// generator would, which matters when it shares two cores with the servers it measures.
import { fileURLToPath } from 'node:url'
import { startProcess } from './procs.mjs'

const SCRIPT = fileURLToPath(new URL('../cart.lua', import.meta.url))

export const WORKLOADS = {
  read: { label: 'read-mostly', description: '90 % GET /cart, 10 % GET /cart?add=x' },
  write: { label: 'write-heavy', description: 'every request GET /cart?add=x' },
  // Not in the default run: what reads alone cost (each user adds once, to have a session, then only reads).
  'read-only': { label: 'read-only', description: 'one GET /cart?add=x per session, then GET /cart' },
  // Not in the default run: reads of sessions as big as read-mostly's largest (19 adds, then only reads).
  'read-full': { label: 'read-full', description: '19 GET /cart?add=x per session, then GET /cart' },
}

/**
 * Run wrk against `url` for `seconds` and return its summary (requests, latency in microseconds, errors,
 * sessions started and lost), parsed from the WRK_JSON line cart.lua prints.
 */
export async function runWrk({ wrk, url, workload, seconds, connections, cap }) {
  const args = [
    '-t', String(connections),
    '-c', String(connections),
    '-d', `${seconds}s`,
    '--timeout', '5s',
    '-s', SCRIPT,
    url,
    '--', workload, String(cap),
  ]
  const proc = startProcess('wrk', wrk, args)
  // Far past its duration: wrk hung (it should not), so the harness does not wait forever.
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), (seconds + 30) * 1_000)
  const { code, signal } = await proc.exited
  clearTimeout(timer)
  const output = proc.output(200)
  const line = output.split('\n').find((l) => l.startsWith('WRK_JSON '))
  if (code !== 0 || !line) throw new Error(`wrk failed (code ${code}, signal ${signal}):\n${output}`)
  return JSON.parse(line.slice('WRK_JSON '.length))
}
