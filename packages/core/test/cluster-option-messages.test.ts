import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { createSessionCluster } from '../src/cluster/create-session-cluster.js'
import { CLUSTER_OPTION_KINDS } from '../src/cluster/options.js'
import { silentLogger } from '../src/logger.js'
import { closestName, describeValue } from '../src/option-checks.js'

// An option mistake should say what to change: the option's name, the closest known one, the value's type.
const messageOf = (fn: () => unknown): string => {
  try {
    fn()
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('did not throw')
}

describe('cluster option messages', () => {
  it.each([
    ['memebrs', 'members'],
    ['replicaton', 'replication'],
    ['Port', 'port'],
    ['ackTimeout', 'ackTimeoutMs'],
  ])('a typo (%s) is refused, naming the option meant (%s)', (typo, meant) => {
    expect(messageOf(() => createSessionCluster({ route: 'n1', [typo]: 1 } as never))).toBe(
      `unknown cluster option "${typo}" (did you mean "${meant}"?)`,
    )
  })

  // From the one table of options: each numeric option is checked, and only `unlimited` ones take Infinity.
  it.each(Object.entries(CLUSTER_OPTION_KINDS).filter(([, kind]) => kind !== 'own'))('%s (%s) refuses 0, a string and NaN', (name, kind) => {
    for (const bad of [0, '10', Number.NaN]) {
      expect(messageOf(() => createSessionCluster({ route: 'n1', [name]: bad } as never))).toBe(`${name} must be a positive number, got ${describeValue(bad)}`)
    }
    const infinite = () => createSessionCluster({ route: 'n1', port: 0, logger: silentLogger, [name]: Number.POSITIVE_INFINITY } as never)
    if (kind === 'unlimited') expect(infinite).not.toThrow()
    else expect(messageOf(infinite)).toBe(`${name} must be a positive number, got the number Infinity`)
  })

  it('an unknown option with nothing close is refused without a guess', () => {
    expect(messageOf(() => createSessionCluster({ route: 'n1', zzz: 1 } as never))).toBe('unknown cluster option "zzz"')
  })

  it('type errors name the type of what was given', () => {
    expect(messageOf(() => createSessionCluster({ route: 'n1', port: '4201' } as never))).toBe(
      'port must be an integer 0-65535, got the string "4201"',
    )
    expect(messageOf(() => createSessionCluster({ route: 'n1', ackTimeoutMs: '2000' } as never))).toBe(
      'ackTimeoutMs must be a positive number, got the string "2000"',
    )
    expect(messageOf(() => createSessionCluster({ route: 'n1', insecure: 'yes' } as never))).toBe('insecure must be a boolean, got the string "yes"')
    expect(messageOf(() => createSessionCluster({ route: 'n1', members: '10.0.0.2:4000' } as never))).toContain('got the string "10.0.0.2:4000"')
    expect(messageOf(() => createSessionCluster({ route: 'n1', secret: 'short' }))).toContain('got a string of 5')
    expect(describeValue(null)).toBe('null')
    expect(describeValue([1, 2])).toBe('an array of 2')
    expect(closestName('maxage', ['maxAge', 'path'])).toBe('maxAge')
  })

  it('a busy cluster port says it is the cluster port, and which option sets it', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as { port: number }).port
    const cluster = createSessionCluster({ route: 'n1', port, logger: silentLogger })
    try {
      const error = await cluster.start().then(
        () => undefined,
        (e: unknown) => e as Error & { cause?: { code?: string } },
      )
      expect(error?.name).toBe('InvalidParametersError')
      expect(error?.message).toMatch(new RegExp(`^cluster port ${port} \\(option \`port\`\\) is already in use on 127\\.0\\.0\\.1`))
      expect(error?.cause?.code).toBe('EADDRINUSE')
    } finally {
      await cluster.stop()
      await new Promise((resolve) => blocker.close(resolve))
    }
  })
})
