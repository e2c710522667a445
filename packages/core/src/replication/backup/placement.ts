/** A member as placement sees it: its incarnation and the route a sticky balancer sends its users to. */
export interface Placed {
  readonly id: string
  readonly route: string
}

/**
 * The owners of a session, primary first, among `members` (this node included):
 * - the primary is the member the session's route names, while it is a member: with a sticky balancer the
 *   node that serves the session holds it, and reads and writes stay local (Tomcat's BackupManager with
 *   jvmRoute); when that member is gone, the first of the ranking below;
 * - the backups are the next `backups` members of a ranking by rendezvous (highest random weight) hashing of
 *   (session, member route): when an unrelated member joins or leaves, a session's other owners stay where they
 *   are, and a member that comes back under its route gets the same sessions back.
 * Every node computes the same owners from the same members, without talking.
 */
export function ownersOf<M extends Placed>(id: string, route: string, members: readonly M[], backups: number): M[] {
  const primary = route ? members.find((m) => m.route === route) : undefined
  const ranked: Array<{ member: M; score: number }> = []
  for (const member of members) if (member !== primary) ranked.push({ member, score: weight(id, member.route) })
  ranked.sort((a, b) => b.score - a.score || (a.member.route < b.member.route ? -1 : 1))
  const wanted = primary ? backups : backups + 1
  const owners = ranked.slice(0, wanted).map((r) => r.member)
  return primary ? [primary, ...owners] : owners
}

/** Rendezvous weight of (session, member): FNV-1a over both, then a 32-bit avalanche so close inputs spread. */
export function weight(id: string, route: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < route.length; i++) h = Math.imul(h ^ route.charCodeAt(i), 0x01000193)
  h = Math.imul(h ^ 0xff, 0x01000193)
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
