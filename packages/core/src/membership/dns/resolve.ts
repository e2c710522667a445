import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { Address } from '../../member.js'

/** Codes that mean "the name has no such records": a valid answer (no pods), not a failed lookup. */
const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND', 'NOTFOUND', 'NODATA'])

/** A resolver on the given servers (`ip` or `ip:port`), or the system's when none are given. */
export function makeResolver(servers: readonly string[] | undefined, timeoutMs: number): Resolver {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 })
  if (servers && servers.length > 0) resolver.setServers([...servers])
  return resolver
}

/**
 * A and AAAA of `name`. Some servers refuse or drop the family they hold nothing for: what one family answered is
 * used when the other failed, and only a lookup where both failed (timeout, refused, server failure) throws.
 */
export async function resolveAddresses(resolver: Resolver, name: string): Promise<string[]> {
  // A literal address resolves to itself (a test, or a single node given by address).
  if (isIP(name)) return [name]
  const [v4, v6] = await Promise.allSettled([orNone(resolver.resolve4(name)), orNone(resolver.resolve6(name))])
  if (v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason
  return [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])]
}

/** The members behind `name`: every address of it on `port`, or, with `srv`, every SRV target on its own port. */
export async function resolveMembers(resolver: Resolver, name: string, how: { port: number; srv: boolean }): Promise<Address[]> {
  if (!how.srv) return (await resolveAddresses(resolver, name)).map((host) => ({ host, port: how.port }))
  const records = await orNone(resolver.resolveSrv(name))
  const targets = await Promise.all(
    records.map(async (r) => (await resolveAddresses(resolver, r.name)).map((host) => ({ host, port: r.port }))),
  )
  return targets.flat()
}

async function orNone<T>(lookup: Promise<T[]>): Promise<T[]> {
  try {
    return await lookup
  } catch (error) {
    if (NO_RECORDS.has((error as NodeJS.ErrnoException).code ?? '')) return []
    throw error
  }
}
