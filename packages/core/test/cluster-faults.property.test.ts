import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import type { ReplicatedSessionCluster } from '../src/cluster/replicated-session-cluster.js'
import { cborCodec } from '../src/codec/cbor-codec.js'
import type { SessionCluster } from '../src/cluster/session-cluster.js'
import type { Address } from '../src/member.js'
import type { MemberInfo } from '../src/membership/membership.js'
import { checkHistory, type Cut, type Operation, type Span, type ViewChange } from './support/history-checker.js'
import { memorySessionClusters } from './support/session-cluster.js'

// Random fault schedules against in-memory nodes (manual clock), with clients on every node; the history
// checker then says whether any read missed an acknowledged write, a destroyed session came back, or the
// replicas ended up different. CI runs FAULT_RUNS schedules (default 12) per manager; `pnpm test:faults` runs
// many more. The backup manager runs on four nodes (one backup) with members also leaving and joining.
// FAULT_MANAGER=delta|backup runs one manager; FAULT_NO_SHRINK stops at the first failure; FAULT_TRACE prints
// each schedule as it starts; FAULT_EXAMPLE='[seed,[[fault,choices],...]]' replays one (the printed counterexample,
// without its `__proto__:null,`); FAULT_DEBUG prints the logs and operations of a failing one.

// Incarnation ids in creation order, not random: the backup manager orders members by id when it groups its sends,
// and a schedule must replay the same way (FAULT_EXAMPLE). Reset at the start of each schedule.
const incarnations = vi.hoisted(() => ({ next: 0 }))
vi.mock('../src/membership/heartbeat-options.js', async (original) => ({
  ...(await original<typeof import('../src/membership/heartbeat-options.js')>()),
  newIncarnationId: () => `incarnation-${String(incarnations.next++).padStart(4, '0')}`,
}))

const RUNS = Number(process.env.FAULT_RUNS ?? 12)
const SETTINGS = {
  replication: 'sync' as const,
  heartbeatIntervalMs: 200,
  suspectTimeoutMs: 1_200,
  verifyTimeoutMs: 400,
  ackTimeoutMs: 1_000,
  stateTransferTimeoutMs: 10_000,
  tombstoneRetentionMs: 20_000,
  antiEntropyIntervalMs: 2_000,
}
/**
 * A cut this long lets each side declare the other failed and stop checking with it (see the checker):
 * suspicion, a direct check (up to twice verifyTimeoutMs), then the same again before reads stop asking it.
 */
const DETECTION_MS = 2 * (SETTINGS.suspectTimeoutMs + 2 * SETTINGS.verifyTimeoutMs) + SETTINGS.heartbeatIntervalMs
/** The soonest a cut can make a node remove a member: suspicion (the last heartbeat may predate the cut), a direct check. */
const REMOVAL_MS = SETTINGS.suspectTimeoutMs - SETTINGS.heartbeatIntervalMs + SETTINGS.verifyTimeoutMs
/** How long a node still asks a member it removed as failed (the strategies' ghosts, as the cluster sets them). */
const GHOST_MS = SETTINGS.suspectTimeoutMs + 2 * SETTINGS.verifyTimeoutMs
const NODES = 3
/** The backup manager's run: four nodes, each session on two; a fifth may join. */
const BACKUP = { manager: 'backup' as const, backups: 1, nodes: 4, maxNodes: 5 }
const SESSIONS = 3
const ATTRS = ['a', 'b']

type Fault =
  | { kind: 'drop'; rate: number; ms: number }
  | { kind: 'one-way'; from: number; to: number; ms: number }
  | { kind: 'partition'; node: number; ms: number }
  | { kind: 'reset'; a: number; b: number }
  | { kind: 'pause'; node: number; ms: number }
  | { kind: 'clock-step'; node: number; ms: number }
  | { kind: 'kill'; node: number; downMs: number }
  /** A graceful stop (SIGTERM), and a new process at its address later. */
  | { kind: 'leave'; node: number; downMs: number }
  /** A new member (backup manager only, up to BACKUP.maxNodes). */
  | { kind: 'join' }
  | { kind: 'none'; ms: number }

const duration = fc.oneof(fc.integer({ min: 100, max: 1_500 }), fc.integer({ min: 3_000, max: 30_000 }))
/** Faults on nodes 0 to `nodes - 1`. */
function faultsOn(nodes: number): Record<Fault['kind'], fc.Arbitrary<Fault>> {
  const node = fc.integer({ min: 0, max: nodes - 1 })
  return {
  drop: fc.record({ kind: fc.constant('drop' as const), rate: fc.double({ min: 0.05, max: 0.5, noNaN: true }), ms: fc.integer({ min: 100, max: 3_000 }) }),
  'one-way': fc.record({ kind: fc.constant('one-way' as const), from: node, to: node, ms: duration }),
  partition: fc.record({ kind: fc.constant('partition' as const), node, ms: duration }),
  reset: fc.record({ kind: fc.constant('reset' as const), a: node, b: node }),
  pause: fc.record({ kind: fc.constant('pause' as const), node, ms: fc.integer({ min: 500, max: 4_000 }) }),
  'clock-step': fc.record({ kind: fc.constant('clock-step' as const), node, ms: fc.constantFrom(-300_000, 300_000) }),
  kill: fc.record({ kind: fc.constant('kill' as const), node, downMs: fc.integer({ min: 0, max: 3_000 }) }),
  leave: fc.record({ kind: fc.constant('leave' as const), node, downMs: fc.integer({ min: 0, max: 3_000 }) }),
  join: fc.record({ kind: fc.constant('join' as const) }),
  none: fc.record({ kind: fc.constant('none' as const), ms: fc.integer({ min: 0, max: 500 }) }),
  }
}
/**
 * The fault kinds a run draws from: FAULT_KINDS (comma-separated) or, by default, every kind but partitions;
 * `pnpm test:faults` runs every kind, 200 schedules. The checker holds reads across a cut longer than failure
 * detection, and changes a node acknowledged alone while cut off from every other node and then lost with it
 * (killed before it could pass them on), to the documented limit of an available cluster, not to sync's promise.
 */
const KINDS = (process.env.FAULT_KINDS ?? 'reset,pause,clock-step,kill,drop,one-way,none').split(',') as Array<Fault['kind']>
const FAULTS = faultsOn(NODES)
const faultArb: fc.Arbitrary<Fault> = fc.oneof(...KINDS.map((k) => FAULTS[k]))
const BACKUP_KINDS = [...KINDS, 'leave', 'join'] as Array<Fault['kind']>
const BACKUP_FAULTS = faultsOn(BACKUP.nodes)
const backupFaultArb: fc.Arbitrary<Fault> = fc.oneof(...BACKUP_KINDS.map((k) => BACKUP_FAULTS[k]))

interface World {
  c: ReturnType<typeof memorySessionClusters>
  ops: Operation[]
  cuts: Cut[]
  /** Nodes killed or stopped, and when. */
  kills: Array<{ node: number; at: number }>
  /** Nodes that serve no client now (paused or down). */
  away: Set<number>
  nextValue: number
  destroyedOne: boolean
  /** Members a 'join' may grow the cluster to (the delta run never grows). */
  maxNodes: number
  /** Every change of each node's view (members admitted, readmitted, removed; the node restarted), for the checker. */
  views: ViewChange[]
  /** When the network dropped frames at random. */
  lossy: Span[]
}

const codec = cborCodec()
/** A channel frame (`[version, kind, id, body]`, the body an encoded message) carrying a heartbeat. */
function isHeartbeat(frame: Uint8Array): boolean {
  const body = (codec.decode(frame) as unknown[])[3]
  return body instanceof Uint8Array && body.length < 4_096 && (codec.decode(body) as { t?: unknown } | null)?.t === 'hb'
}

/** When heartbeats were delivered, per link: one from a member a node removed renews its ghost there. */
class Deliveries {
  readonly #times = new Map<string, number[]>()
  /** Heartbeats recorded: none would mean the frame format changed and every ghost looks expired. */
  count = 0

  record(from: number, to: number, at: number): void {
    this.count++
    const key = `${from}>${to}`
    const times = this.#times.get(key)
    if (!times) this.#times.set(key, [at])
    else if (times[times.length - 1] !== at) times.push(at)
  }

  /** The last delivery from `from` to `to` at or before `at`; -Infinity if none. */
  readonly lastHeard = (from: number, to: number, at: number): number => {
    const times = this.#times.get(`${from}>${to}`) ?? []
    let lo = 0
    let hi = times.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (times[mid]! <= at) lo = mid + 1
      else hi = mid
    }
    return lo > 0 ? times[lo - 1]! : Number.NEGATIVE_INFINITY
  }
}

/** A session id of the cluster's shape (`<random>.<route>`) whose random part comes from the seed. */
const seededId = (seed: number, i: number, route: string) => `${createHash('sha256').update(`${seed}:${i}`).digest('base64url').slice(0, 32)}.${route}`

const address = (w: World, n: number): Address => w.c.nodes[n]!.local.address
/** memorySessionClusters names node i `node${i + 1}`. */
const nodeIndexOf = (route: string) => Number(route.slice('node'.length)) - 1
/**
 * Event times for the checker: the manual clock's millisecond, plus a fraction that grows with every event stamped,
 * so that events within one millisecond keep the order they happened in (a member readmitted before or after a
 * read began in the same millisecond; the clock runs every due timer before the clients go on).
 */
const events = { count: 0, base: 0 }
// From the run's start: small numbers keep the fraction (the clock's epoch milliseconds would round it away).
const stamp = (clock: { monotonic(): number }) => clock.monotonic() - events.base + ++events.count * 1e-7
const now = (w: World) => stamp(w.c.clock)

/** One client operation on node `n`, recorded with its outcome. */
async function operate(w: World, n: number, session: string, choice: number): Promise<void> {
  const target: SessionCluster = w.c.nodes[n]!
  const invokeAt = now(w)
  if (choice < 0.45) {
    const attr = ATTRS[Math.floor(choice * 100) % ATTRS.length]!
    const value = `v${w.nextValue++}`
    const op: Operation = { kind: 'write', node: n, session, attr, value, invokeAt, ok: false }
    w.ops.push(op)
    try {
      const loaded = await target.load(session)
      if (!loaded) return
      loaded.data[attr] = value
      await target.save(session, loaded.data, { loaded })
      op.ok = true
      op.completeAt = now(w)
    } catch {
      // 503 (fenced) or stopped: the write may not have happened; the checker treats it as unknown.
    }
  } else if (choice < 0.47 && !w.destroyedOne) {
    w.destroyedOne = true
    const op: Operation = { kind: 'destroy', node: n, session, invokeAt, ok: false }
    w.ops.push(op)
    try {
      await target.destroy(session)
      op.ok = true
      op.completeAt = now(w)
    } catch {}
  } else {
    const op: Operation = { kind: 'read', node: n, session, invokeAt, ok: false }
    w.ops.push(op)
    try {
      const loaded = await target.load(session)
      op.attrs = loaded ? { ...loaded.data } : null
      op.ok = true
      op.completeAt = now(w)
    } catch {}
  }
}

/** Run `promise` while advancing the manual clock. */
async function drive<T>(w: World, promise: Promise<T>, maxMs = 60_000): Promise<T> {
  let done = false
  const tracked = promise.finally(() => {
    done = true
  })
  await w.c.clock.advanceUntil(() => done, { stepMs: 10, maxMs })
  return tracked
}

async function burst(w: World, sessions: string[], choices: number[]): Promise<void> {
  const serving = [...w.c.nodes.keys()].filter((n) => !w.away.has(n))
  if (serving.length === 0) return
  await drive(
    w,
    Promise.all(
      choices.map((choice, i) => operate(w, serving[(i + Math.floor(choice * 7)) % serving.length]!, sessions[i % sessions.length]!, choice)),
    ),
  )
}

async function inject(w: World, fault: Fault, sessions: string[], choices: number[]): Promise<void> {
  const { c } = w
  const start = now(w)
  // Clients keep working while the fault lasts: a burst, a pause, the next burst...
  const during = async (ms: number) => {
    let round = 0
    do {
      await burst(w, sessions, choices.map((x) => (x + round++ * 0.37) % 1))
      await c.clock.advance(150)
    } while (now(w) < start + ms)
  }
  switch (fault.kind) {
    case 'drop':
      c.network.setFaults({ dropRate: fault.rate })
      await during(fault.ms)
      c.network.setFaults({ dropRate: 0 })
      w.lossy.push({ start, end: now(w) })
      return
    case 'one-way':
      if (fault.from === fault.to) return during(fault.ms)
      c.network.cut(address(w, fault.from), address(w, fault.to))
      await during(fault.ms)
      c.network.restore(address(w, fault.from), address(w, fault.to))
      w.cuts.push({ from: fault.from, to: fault.to, start, end: now(w) })
      return
    case 'partition': {
      const others = [...w.c.nodes.keys()].filter((n) => n !== fault.node)
      c.network.partition([address(w, fault.node)], others.map((n) => address(w, n)))
      await during(fault.ms)
      c.network.heal()
      for (const o of others) w.cuts.push({ from: fault.node, to: o, start, end: now(w) }, { from: o, to: fault.node, start, end: now(w) })
      return
    }
    case 'reset':
      if (fault.a !== fault.b) c.network.reset(address(w, fault.a), address(w, fault.b))
      return burst(w, sessions, choices)
    case 'pause':
      // SIGSTOP: the process neither sends, receives nor runs timers; the rest of the world goes on.
      w.away.add(fault.node)
      c.network.pause(address(w, fault.node))
      c.wallClocks[fault.node]!.pause()
      await during(fault.ms)
      c.network.resume(address(w, fault.node))
      c.wallClocks[fault.node]!.resume()
      w.away.delete(fault.node)
      // To the others, a paused node is as silent as a cut-off one.
      for (const o of [...w.c.nodes.keys()].filter((n) => n !== fault.node)) {
        w.cuts.push({ from: fault.node, to: o, start, end: now(w), held: true }, { from: o, to: fault.node, start, end: now(w), held: true })
      }
      return
    case 'clock-step':
      c.wallClocks[fault.node]!.stepWall(fault.ms)
      return burst(w, sessions, choices)
    case 'kill': {
      if (w.away.size > 0) return
      w.away.add(fault.node)
      w.kills.push({ node: fault.node, at: now(w) })
      await c.kill(fault.node)
      await during(fault.downMs)
      await drive(w, c.restart(fault.node), 120_000)
      w.away.delete(fault.node)
      return
    }
    case 'leave': {
      if (w.away.size > 0) return
      w.away.add(fault.node)
      // For the checker a stop is a kill: a node that acknowledged changes alone, cut off from every member, and stops
      // before it is readmitted has nobody to hand them to (the same documented limit as a SIGKILL).
      w.kills.push({ node: fault.node, at: now(w) })
      await drive(w, c.nodes[fault.node]!.stop())
      await during(fault.downMs)
      await drive(w, c.restart(fault.node), 120_000)
      w.away.delete(fault.node)
      return
    }
    case 'join':
      if (w.c.nodes.length >= w.maxNodes || w.away.size > 0) return burst(w, sessions, choices)
      await drive(w, c.add(1), 180_000)
      return burst(w, sessions, choices)
    case 'none':
      return during(fault.ms)
  }
}

/**
 * Schedules the random exploration once failed on the backup manager, replayed in every run (ids and incarnations come
 * from the seed, so a schedule replays exactly): a logout on a non-owner cut off from every member for longer than
 * the tombstone retention; a read on a node that had just healed, to which every owner was still suspect; a read on a
 * non-owner cut off from every member, of a session it had written to before the cut; a read whose fetch waited for
 * a silent owner longer than a copy is kept, and whose copy was let go under it; a write acknowledged by a node alone
 * in its view a moment after failure detection gave up on every member (behind a link already back), then killed; a
 * write a failed-but-running member made to the other owner under its own view, which the primary never pulled; a
 * read by a node alone whose copy was made only of changes sent to it (no whole copy), served as if whole; a read
 * that took "none" from a member that was an owner only in the reader's view while the real owner did not answer; a
 * write a non-owner acknowledged with the backup alone, its frames to the primary lost one way while the primary had
 * removed it, which the primary never pulled after readmitting it. And one the checker misjudged: a logout a node cut
 * off from every member acknowledged alone before it was killed (lost by design), held against a node that joined later.
 */
const BACKUP_REGRESSIONS: Array<[number, Array<[Fault, number[]]>]> = [
  [10,[[{"kind":"kill","node":2,"downMs":1384},[1.1450454109175984e-209,3.488134482440953e-44,2.2747091140287104e-299,4.210856603694793e-220,4.5304432560076574e-254]],[{"kind":"partition","node":3,"ms":29605},[3.710769758772465e-15,5.196639739516638e-87,1.2199802721274021e-30,4.115174084367981e-306,1.767831496647622e-258,2.0553059864979213e-176]],[{"kind":"join"},[1.3426293973522735e-300,1.2676560055408299e-146,7.203756388277201e-12]]]],
  [500533523,[[{"kind":"leave","node":2,"downMs":2302},[1.3200104998365032e-207,1.440968728691688e-167,3.800120318939647e-276,4.537279106835508e-205]],[{"kind":"partition","node":2,"ms":1354},[7.519405890907602e-286,2.156367913976189e-191,2.5822178910199095e-31]],[{"kind":"clock-step","node":3,"ms":300000},[4.669616587702152e-28,4.0153082861292605e-110,3.619067784107231e-263,1.1488756521859458e-139,5.517402977056986e-203,1.7002451816678213e-155]],[{"kind":"join"},[3.2753698380478514e-134,1.5549530564696783e-60]],[{"kind":"partition","node":3,"ms":6299},[1.0713965319568645e-240,1.0135673910521761e-285,1.3161355696840686e-258,1.4387903195770772e-106,1.0284172113111247e-247,1.0270804775956641e-255]],[{"kind":"leave","node":1,"downMs":986},[2.408681840107702e-15,1.422612889677658e-103,3.168530962044332e-146,4.379061571758536e-38,1.4879863394827562e-89,2.8109098923833875e-22]]]],
  [1419566113,[[{"kind":"none","ms":2},[2.0948650901992974e-155,1.9757108590755412e-180,9.091769622204922e-296,0.00010059378838092954]],[{"kind":"partition","node":2,"ms":1499},[1.8999501982604949e-103,3.0137422329705063e-282,4.410680221295634e-29]],[{"kind":"none","ms":2},[4.7393019389632846e-120,2.200041477295204e-249]],[{"kind":"partition","node":3,"ms":24614},[1.212063107336766e-86,3.662672410683401e-173,6.555512275457986e-90,2.130226635880063e-145]],[{"kind":"join"},[1.9016661457701706e-41,6.478213277748843e-58,2.948902211210765e-171,6.7605730532861795e-276]]]],
  [1636801141,[[{"kind":"drop","rate":0.22570070640659576,"ms":2663},[1.1761619910521529e-36,1.5541620264898772e-265,2.045023837848625e-245,1.2934454189709445e-228]],[{"kind":"reset","a":1,"b":0},[3.904650365069448e-181,3.3884380202954056e-74]],[{"kind":"join"},[1.3831935993091734e-64,5.823598113408434e-245]],[{"kind":"clock-step","node":0,"ms":-300000},[5.084690367239188e-94,4.494810375418304e-132,3.1761514984569304e-225,6.1575812281856435e-149,1.7116256352105308e-137]],[{"kind":"partition","node":0,"ms":19870},[1.312484188613767e-180,1.6258079163542243e-155,4.86930454592316e-280,8.405553815683414e-157]],[{"kind":"none","ms":378},[5.694409046307383e-280,6.486206328164921e-209]]]],
  [3126307,[[{"kind":"partition","node":1,"ms":1262},[7.06911047875632e-109,3.7751376508236954e-173]],[{"kind":"clock-step","node":2,"ms":300000},[1.541255488793267e-82,2.3625974197992614e-107,1.4885450138606367e-170,1.4892940575856535e-255]],[{"kind":"kill","node":1,"downMs":1670},[3.3619895191243285e-49,2.1969589428788452e-69,8.300425621035576e-221]],[{"kind":"partition","node":3,"ms":1145},[4.02133060894874e-157,8.368505630239433e-162,2.8442646725944513e-175]],[{"kind":"pause","node":0,"ms":3590},[6.004652312961078e-287,5.455511129280503e-160,8.48022571127438e-295]]]],
  [20,[[{"kind":"pause","node":3,"ms":3545},[2.623363197466588e-183,2.2658649733439284e-47,5.84280181829457e-132,1.6809345988853056e-250,1.767012813439007e-307,8.90569879042418e-280]],[{"kind":"one-way","from":1,"to":0,"ms":11303},[8.167889525841222e-268,9.665140123478899e-256,1.1698891003370804e-187,2.7421240370586543e-177]],[{"kind":"leave","node":1,"downMs":413},[5.144972200174853e-171,3.149663771325446e-10,3.7780043376269056e-212,5.661214390653885e-136]]]],
  [1910692534,[[{"kind":"leave","node":2,"downMs":1792},[1.6087734838145478e-68,1.668873011643153e-92,1.4467879430477291e-18]],[{"kind":"none","ms":498},[1.1114860748366493e-184,1.9829760074145238e-106,2.4972385619103492e-163,5.958023213960225e-237,5.822498248587187e-28,9.667188539864033e-201]],[{"kind":"join"},[9.4e-323,1.9641905050568322e-236,1.1980044629702806e-220]],[{"kind":"one-way","from":0,"to":3,"ms":629},[1.1548072083679901e-265,9.914526850537174e-202,3.23572654246283e-309,2.934746988518359e-109]],[{"kind":"one-way","from":1,"to":2,"ms":400},[1.1764726254078024e-211,9.2439835285292e-148,2.3831749521553138e-144]],[{"kind":"partition","node":1,"ms":15131},[1.1665604381850647e-169,7.93644185372945e-64,2.857912299611042e-31,8.594438432868909e-13,4.718341271935901e-304]],[{"kind":"pause","node":1,"ms":3805},[5.031712321406976e-277,3.274492439175876e-108,4.8579398222029474e-281]],[{"kind":"one-way","from":1,"to":3,"ms":616},[5.4e-323,3.5100135150351816e-295,2.4271701684205688e-258,5.3821790564647286e-132]]]],
  [3,[[{"kind":"leave","node":0,"downMs":813},[6.845366140482969e-75,0.01583722784771975,3.206256478002538e-303,4.018801557138476e-209]],[{"kind":"kill","node":1,"downMs":350},[3.817025902685881e-67,0.002388553184856727,2.479067846990155e-22,3.818964242373108e-14,1.618008406081504e-186]],[{"kind":"kill","node":1,"downMs":2788},[3.1877495287761927e-214,1.8778752695531487e-129]],[{"kind":"one-way","from":3,"to":2,"ms":19523},[9.751520817624375e-56,1.342838275818696e-90]],[{"kind":"drop","rate":0.4794988645914915,"ms":1176},[6.692222333229438e-26,3.5822709197081063e-43,9.251053054899868e-239,2.2598536510208064e-302,1.836783601660904e-40,7.186111990397612e-237]],[{"kind":"partition","node":2,"ms":1315},[9.024802534116376e-257,3.1119814655144417e-131,1.5611040899477047e-86,1.0994521970203732e-166]]]],
  [1241624036,[[{"kind":"one-way","from":0,"to":0,"ms":3000},[0,0]],[{"kind":"one-way","from":0,"to":0,"ms":100},[0,0]],[{"kind":"one-way","from":2,"to":0,"ms":6911},[0,0,0,0,0,0]]]],
  [1021144234,[[{"kind":"partition","node":1,"ms":6171},[0,0,0,0]],[{"kind":"kill","node":1,"downMs":0},[0,0]],[{"kind":"join"},[0,0]],[{"kind":"partition","node":0,"ms":100},[0,0]],[{"kind":"leave","node":0,"downMs":0},[0,0]]]],
  // A node cut off from every other acknowledged a write alone; a member that had removed it read the session from
  // the owners at the very moment it readmitted it, before the node had handed the write over.
  [1,[[{"kind":"clock-step","node":0,"ms":-300000},[0,0,0]],[{"kind":"join"},[0,0]],[{"kind":"partition","node":2,"ms":5411},[0,0,0,0,0,0]],[{"kind":"leave","node":0,"downMs":161},[0,0,0]]]],
  // A node whose wall clock was 5 min ahead purged a tombstone at once, and the primary, cut off from the destroyer,
  // wrote to the session there again.
  [1623679630,[[{"kind":"clock-step","node":1,"ms":300000},[0,0]],[{"kind":"one-way","from":3,"to":0,"ms":20641},[0,0]],[{"kind":"pause","node":0,"ms":500},[0,0]]]],
  // Not a fault of the manager but of the checker: a node removed in a 2.1 s cut, kept apart through a 310 ms gap and
  // a second cut, acknowledged alone (the documented limit); the checker wanted the removal inside a cut twice that long.
  [3,[[{"kind":"partition","node":1,"ms":100},[0,0,0,0]],[{"kind":"one-way","from":0,"to":0,"ms":161},[0,0]],[{"kind":"partition","node":1,"ms":3000},[0,0]],[{"kind":"clock-step","node":0,"ms":-300000},[0,0]]]],
]

/**
 * Schedules the random exploration once failed on the all-to-all manager, replayed in every run: one long partition
 * of a node with a lossy 300 ms break in which nobody readmitted it (the checker then judged the second cut alone).
 */
const DELTA_REGRESSIONS: Array<[number, Array<[Fault, number[]]>]> = [
  [917320558,[[{"kind":"partition","node":2,"ms":12351},[0,0]],[{"kind":"drop","rate":0.41275303345173603,"ms":100},[0,0]],[{"kind":"partition","node":2,"ms":3000},[0,0,0]],[{"kind":"partition","node":0,"ms":3000},[0,0]],[{"kind":"reset","a":0,"b":0},[0,0]]]],
  // The checker's: a node removed its members 500 ms into a partition, failure detection having begun in the lossy
  // stretch just before it; the checker wanted the removal 1.4 s into the cut, and flagged a write made alone after.
  [1,[[{"kind":"drop","rate":0.32333161961287266,"ms":100},[0,0,0]],[{"kind":"clock-step","node":0,"ms":-300000},[0,0]],[{"kind":"partition","node":0,"ms":4851},[0,0,0]]]],
  // The checker's: a 10 ms break between two partitions let a frame through but no heartbeat; judged by the cuts, the
  // reader's ghost of the writer was renewed then, and its reads 1.75 s later were flagged. It records heartbeats now.
  [1,[[{"kind":"partition","node":1,"ms":3000},[0,0]],[{"kind":"clock-step","node":0,"ms":-300000},[0,0]],[{"kind":"partition","node":1,"ms":1451},[0,0]],[{"kind":"pause","node":1,"ms":500},[0,0]],[{"kind":"reset","a":0,"b":0},[0,0]]]],
  // The checker's: a write began on a node alone and was acknowledged after it readmitted the other side, in the same
  // millisecond; it was concurrent with that side's write (events in one millisecond are ordered now, and a write is
  // judged when it began).
  [1,[[{"kind":"clock-step","node":0,"ms":-300000},[0,0]],[{"kind":"clock-step","node":2,"ms":-300000},[0,0]],[{"kind":"partition","node":1,"ms":4851},[0,0]],[{"kind":"pause","node":1,"ms":500},[0,0]],[{"kind":"one-way","from":0,"to":0,"ms":3000},[0,0]]]],
  // A stream resent, after a long one-way loss, changes made before the session was destroyed; the member had
  // purged the tombstone by then, and took them for a session.
  [1,[[{"kind":"kill","node":0,"downMs":0},[0,0]],[{"kind":"none","ms":0},[0,0]],[{"kind":"pause","node":2,"ms":1151},[0,0]],[{"kind":"one-way","from":0,"to":0,"ms":21051},[0,0,0]],[{"kind":"pause","node":2,"ms":3901},[0,0,0,0]],[{"kind":"pause","node":0,"ms":3751},[0,0,0,0]]]],
]

const VARIANTS = [
  { manager: 'delta' as const, nodes: NODES, maxNodes: NODES, faults: faultArb, regressions: DELTA_REGRESSIONS, extra: {} },
  { manager: 'backup' as const, nodes: BACKUP.nodes, maxNodes: BACKUP.maxNodes, faults: backupFaultArb, regressions: BACKUP_REGRESSIONS, extra: { manager: BACKUP.manager, backups: BACKUP.backups } },
].filter((v) => !process.env.FAULT_MANAGER || v.manager === process.env.FAULT_MANAGER)

describe.each(VARIANTS)('fault injection with a history checker (in-memory network, manual clock), manager $manager', (variant) => {
  it(`sync: no read misses an acknowledged write, no destroyed session returns, replicas converge (${RUNS} schedules)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.array(fc.tuple(variant.faults, fc.array(fc.double({ min: 0, max: 0.9999, noNaN: true }), { minLength: 2, maxLength: 6 })), { minLength: 3, maxLength: 8 }),
        async (seed, schedule) => {
          const logs: string[] = []
          incarnations.next = 0
          events.count = 0
          if (process.env.FAULT_TRACE) process.stderr.write(`RUN ${JSON.stringify([seed, schedule])}\n`)
          const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
            logs.push(`${c.clock.monotonic() - t0} ${level} ${msg} ${JSON.stringify(fields, (_k, v) => (v instanceof Error ? v.message : v))}`)
          }
          const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
          const views: ViewChange[] = []
          const heard = new Deliveries()
          const viewChange = (node: number, kind: 'join' | 'leave') => (m: MemberInfo) =>
            views.push({ node, member: nodeIndexOf(m.route), id: m.id, kind, at: stamp(c.clock) })
          const c = memorySessionClusters({
            seed,
            ...SETTINGS,
            ...variant.extra,
            logger,
            onNode: (index, node) => {
              views.push({ node: index, kind: 'start', at: stamp(c.clock) })
              node.on('memberJoined', viewChange(index, 'join'))
              node.on('memberLeft', viewChange(index, 'leave'))
            },
            onDeliver: (from, to, frame) => {
              if (isHeartbeat(frame)) heard.record(from, to, stamp(c.clock))
            },
          })
          const t0 = c.clock.monotonic()
          events.base = t0
          const w: World = { c, ops: [], cuts: [], kills: [], away: new Set(), nextValue: 0, destroyedOne: false, maxNodes: variant.maxNodes, views, lossy: [] }
          try {
            await c.add(variant.nodes)
            // Ids from the seed, not generateId(): the backup manager places sessions by id, and a schedule must
            // replay with the same owners (FAULT_EXAMPLE) to be debugged.
            const sessions = Array.from({ length: SESSIONS }, (_, i) => seededId(seed, i, c.nodes[0]!.route))
            await drive(w, Promise.all(sessions.map((id) => c.nodes[0]!.save(id, { seed: 'x' }))))
            for (const [fault, choices] of schedule) await inject(w, fault, sessions, choices)
            // Heal everything, let anti-entropy run, then read every node's data directly.
            c.network.heal()
            c.network.setFaults({ dropRate: 0 })
            await c.clock.advance(3 * SETTINGS.antiEntropyIntervalMs + DETECTION_MS + 5_000)
            const final = await drive(
              w,
              Promise.all(
                c.nodes.map(async (n) => {
                  const out: Record<string, Record<string, unknown> | null> = {}
                  for (const id of sessions) out[id] = (await n.load(id))?.data ?? null
                  return out
                }),
              ),
            )
            const violations = checkHistory(w.ops, final, { detectionMs: DETECTION_MS, healMs: 2 * SETTINGS.heartbeatIntervalMs, cuts: w.cuts, kills: w.kills, views: { changes: w.views, removalMs: REMOVAL_MS, ghostMs: GHOST_MS, lastHeard: heard.lastHeard }, lossy: w.lossy })
            if (violations.length > 0 && process.env.FAULT_DEBUG) {
              console.log(logs.join('\n'))
              console.log(w.ops.map((o) => JSON.stringify(o)).join('\n'))
            }
            expect(heard.count, 'heartbeats seen on the network').toBeGreaterThan(0)
            expect(violations, `seed ${seed}: ${JSON.stringify(schedule.map(([f]) => f))}`).toEqual([])
            // Replicas converge: every node holds the same data.
            for (const data of final.slice(1)) expect(data).toEqual(final[0])
            if (variant.manager === 'backup') {
              // Every session no destroy may have ended lives on backups + 1 members (their own copies), all alike,
              // once the copies the final reads fetched have gone back to their owners.
              await c.clock.advance(10_000)
              const destroyed = new Set(w.ops.filter((o) => o.kind === 'destroy').map((o) => o.session))
              for (const id of sessions) {
                const held = c.nodes.flatMap((n) => {
                  const data = (n as ReplicatedSessionCluster).peek(id)
                  return data ? [data] : []
                })
                if (destroyed.has(id)) continue
                if (process.env.FAULT_DEBUG && held.length !== BACKUP.backups + 1) console.log(id, c.nodes.map((n) => [n.route, !!(n as ReplicatedSessionCluster).peek(id), JSON.stringify(n.status().strategy), JSON.stringify(Object.fromEntries(Object.entries(n.status().counters).filter(([k]) => /exclu|peer|commit/.test(k)))), n.status().members.map((m) => m.route + m.state)]))
                expect(held, `seed ${seed}: copies of ${id}`).toHaveLength(BACKUP.backups + 1)
                for (const data of held) expect(data).toEqual(final[0]![id])
              }
            }
          } finally {
            await c.stopAll()
          }
        },
      ),
      {
        numRuns: RUNS,
        // The backup manager's CI run replays fixed schedules: until recently its random exploration (`pnpm
        // test:faults`) found a new rare defect about once in a thousand schedules (each now in BACKUP_REGRESSIONS), and
        // a red CI must mean a regression, not a roll of the dice. The delta manager's CI run explores at random. Both
        // replay the schedules that once failed them first.
        ...(variant.manager === 'backup' && process.env.FAULT_RUNS === undefined ? { seed: 20_261_202 } : {}),
        examples: variant.regressions,
        endOnFailure: process.env.FAULT_NO_SHRINK !== undefined, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED), path: process.env.FC_PATH } : {}), ...(process.env.FAULT_EXAMPLE ? { examples: process.env.FAULT_EXAMPLE.startsWith("[[") ? JSON.parse(process.env.FAULT_EXAMPLE) : [JSON.parse(process.env.FAULT_EXAMPLE)] } : {}) },
    )
  }, 600_000)
})
