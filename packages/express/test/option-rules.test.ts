import { describe, expect, it } from 'vitest'
import { clusterSession, clusterStore } from '../src/index.js'
import { SECRET } from './support/nodes.js'

// The option rules the Fastify adapter applies alike (packages/fastify/test/option-rules.test.ts).
const cluster = { route: 'v', port: 0 }
const messageOf = (fn: () => unknown): string => {
  try {
    fn()
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('did not throw')
}

describe('clusterSession and clusterStore: option rules', () => {
  it('unknown keys are refused at every level, naming the option meant', () => {
    expect(messageOf(() => clusterSession({ secret: SECRET, cluster, saveUninitalized: true } as never))).toBe(
      'clusterSession: unknown option "saveUninitalized" (did you mean "saveUninitialized"?)',
    )
    expect(messageOf(() => clusterSession({ secret: SECRET, cluster: { ...cluster, memebrs: [] } } as never))).toBe(
      'unknown cluster option "memebrs" (did you mean "members"?)',
    )
    expect(messageOf(() => clusterSession({ secret: SECRET, cluster, cookie: { maxage: 1000 } } as never))).toBe(
      'clusterSession: unknown cookie option "maxage" (did you mean "maxAge"?)',
    )
    expect(messageOf(() => clusterStore({ ...cluster, replicaton: 'async' } as never))).toBe(
      'unknown cluster option "replicaton" (did you mean "replication"?)',
    )
  })

  it('one secret rule (the Fastify adapter’s): at least 32 characters, said with what was given', () => {
    expect(messageOf(() => clusterSession({ cluster } as never))).toMatch(/^clusterSession: secret is required: a string of at least 32 characters/)
    expect(messageOf(() => clusterSession({ secret: 'x', cluster }))).toMatch(/secret must be .* got a string of 1 characters$/)
    expect(messageOf(() => clusterSession({ secret: [SECRET, 'short'], cluster }))).toMatch(/got a string of 5 characters$/)
    expect(messageOf(() => clusterSession({ secret: 42, cluster } as never))).toMatch(/got the number 42$/)
  })

  it('type errors name the type of what was given', () => {
    expect(messageOf(() => clusterSession({ secret: SECRET, cluster, rolling: 'yes' } as never))).toBe(
      'clusterSession: rolling must be a boolean, got the string "yes"',
    )
    expect(messageOf(() => clusterSession({ secret: SECRET, cluster: { ...cluster, port: '4201' } } as never))).toBe(
      'port must be an integer 0-65535, got the string "4201"',
    )
    expect(messageOf(() => clusterSession({ secret: SECRET, cluster, cookie: { maxAge: '1h' } } as never))).toBe(
      'clusterSession: cookie.maxAge must be a positive number of milliseconds, got the string "1h"',
    )
  })
})
