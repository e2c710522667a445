// Where sessions live, for the demo dashboard: a short hash of each session (never its id, which is a
// credential) and the route it is bound to, at most 100 of them.
import { createHash } from 'node:crypto'

/** A short stable reference for a session id: the same on every node, whatever route suffix the id carries. */
export function sessionRef(id) {
  const base = String(id).replace(/^s:/, '').split('.')[0]
  return createHash('sha256').update(base).digest('base64url').slice(0, 10)
}

/** @param {{ ids(): string[], meta(id: string): { route: string } | undefined }} cluster */
export function sessionRefs(cluster, limit = 100) {
  return cluster
    .ids()
    .slice(0, limit)
    .map((id) => ({ ref: sessionRef(id), route: cluster.meta(id)?.route ?? null }))
}
