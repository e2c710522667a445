import { silentLogger } from '@session-cluster/core'
import Fastify, { type FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import { type ClusterSessionOptions, clusterSession, clusterStore } from '../src/index.js'
import { SECRET } from './support/nodes.js'

// The option rules the Express adapter applies alike (packages/express/test/option-rules.test.ts).
const cluster = { route: 'v', port: 0, logger: silentLogger }
const PREFIX = '@session-cluster/fastify: '

async function registered(options: Record<string, unknown>, app: FastifyInstance = Fastify({ logger: false })): Promise<FastifyInstance> {
  await app.register(clusterSession, options as unknown as ClusterSessionOptions)
  await app.ready()
  return app
}
async function refusal(options: Record<string, unknown>): Promise<string> {
  const app = Fastify({ logger: false })
  try {
    await registered(options, app)
  } catch (error) {
    return (error as Error).message
  } finally {
    await app.close()
  }
  throw new Error('registration did not fail')
}

describe('clusterSession (Fastify) and clusterStore: option rules', () => {
  it('unknown keys are refused at every level, naming the option meant', async () => {
    expect(await refusal({ secret: SECRET, cluster, saveUninitalized: true })).toBe(
      `${PREFIX}unknown option "saveUninitalized" (did you mean "saveUninitialized"?)`,
    )
    expect(await refusal({ secret: SECRET, cluster: { ...cluster, memebrs: [] } })).toBe('unknown cluster option "memebrs" (did you mean "members"?)')
    expect(await refusal({ secret: SECRET, cluster, cookie: { maxage: 1000 } })).toBe(`${PREFIX}unknown cookie option "maxage" (did you mean "maxAge"?)`)
    expect(() => clusterStore({ ...cluster, replicaton: 'async' } as never)).toThrow('unknown cluster option "replicaton" (did you mean "replication"?)')
  })

  it('one secret rule (the Express adapter’s): at least 32 characters, "required" only when missing', async () => {
    expect(await refusal({ cluster })).toMatch(/secret is required: a string of at least 32 characters/)
    expect(await refusal({ secret: 'too short', cluster })).toMatch(/secret must be .* got a string of 9 characters$/)
  })

  it('type errors name the type of what was given', async () => {
    expect(await refusal({ secret: SECRET, cluster, rolling: 'yes' })).toBe(`${PREFIX}rolling must be a boolean, got the string "yes"`)
    expect(await refusal({ secret: SECRET, cluster: { ...cluster, port: '4201' } })).toBe('port must be an integer 0-65535, got the string "4201"')
  })

  it('the cookie name is `name`, as in the Express adapter; `cookieName` is its deprecated alias', async () => {
    const cookieNameOf = async (options: Record<string, unknown>) => {
      const app = Fastify({ logger: false })
      await app.register(clusterSession, { secret: SECRET, cluster, ...options } as unknown as ClusterSessionOptions)
      app.get('/', async (request) => {
        request.session.set('k', 1)
        return {}
      })
      try {
        const res = await app.inject('/')
        return String(res.headers['set-cookie']).split('=')[0]
      } finally {
        await app.close()
      }
    }
    expect(await cookieNameOf({})).toBe('sid')
    expect(await cookieNameOf({ name: 'app_sid' })).toBe('app_sid')
    expect(await cookieNameOf({ cookieName: 'old_sid' })).toBe('old_sid')
    expect(await refusal({ secret: SECRET, cluster, name: 'a', cookieName: 'b' })).toMatch(/give the cookie name once/)
  })
})
