import { fileURLToPath } from 'node:url'
import { forkNode, type NodeProcess } from '../fixtures/node-process.mjs'

export { eventually, type NodeProcess } from '../fixtures/node-process.mjs'

const script = fileURLToPath(new URL('../fixtures/cluster-node.mjs', import.meta.url))

/** A cluster node (`fixtures/cluster-node.mjs`, the built core) in a child process, commanded over IPC. */
export function startNode(route: string, options: Record<string, unknown>, { readyTimeoutMs = 60_000, execArgv = [] as string[] } = {}): Promise<NodeProcess> {
  return forkNode(script, route, options, { readyTimeoutMs, execArgv })
}
