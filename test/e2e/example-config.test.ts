// The example apps' environment (examples/common/config.js): defaults, the optional extras, and a named error for
// a bad value (the apps print it and exit 1 at start-up instead of failing at the first request).
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { readConfig } from '../../examples/common/config.js'

describe('example configuration', () => {
  it('defaults to failover rebinding', () => {
    expect(readConfig({}).rebind).toBe('failover')
  })

  it('REBIND chooses always, failover or off', () => {
    expect(readConfig({ REBIND: 'always' }).rebind).toBe('always')
    expect(readConfig({ REBIND: 'failover' }).rebind).toBe('failover')
    expect(readConfig({ REBIND: 'off' }).rebind).toBe(false)
  })

  it('takes the optional advertise address and timings', () => {
    const config = readConfig({ CLUSTER_ADVERTISE_HOST: '10.0.0.5', CLUSTER_ACK_TIMEOUT_MS: '1500' })
    expect(config.cluster.advertiseHost).toBe('10.0.0.5')
    expect(config.cluster.ackTimeoutMs).toBe(1500)
    expect(() => readConfig({ CLUSTER_ACK_TIMEOUT_MS: '-3' })).toThrow(/CLUSTER_ACK_TIMEOUT_MS/)
  })

  it('MANAGER=backup reaches the cluster options, with BACKUPS copies', () => {
    expect(readConfig({}).cluster.manager).toBe('delta')
    expect(readConfig({ MANAGER: 'backup' }).cluster).toMatchObject({ manager: 'backup' })
    expect(readConfig({ MANAGER: 'backup', BACKUPS: '2' }).cluster).toMatchObject({ manager: 'backup', backups: 2 })
    expect(() => readConfig({ MANAGER: 'backup', BACKUPS: '0' })).toThrow(/BACKUPS must be a whole number/)
    expect(() => readConfig({ BACKUPS: '2' })).toThrow(/BACKUPS applies to MANAGER=backup only/)
    expect(() => readConfig({ MANAGER: 'primary' })).toThrow(/MANAGER must be one of delta, backup/)
  })

  it('refuses an unknown REBIND, REPLICATION or port by name', () => {
    expect(() => readConfig({ REBIND: 'sometimes' })).toThrow(/REBIND must be one of failover, always, off, got "sometimes"/)
    expect(() => readConfig({ REBIND: 'toString' })).toThrow(/REBIND must be one of/)
    expect(() => readConfig({ REPLICATION: 'eventual' })).toThrow(/REPLICATION must be one of sync, async/)
    expect(() => readConfig({ PORT: '70000' })).toThrow(/PORT must be a port number/)
  })
})

describe('example configuration: discovery', () => {
  it('static stays the default and keeps CLUSTER_MEMBERS', () => {
    const config = readConfig({ CLUSTER_MEMBERS: '127.0.0.1:4001' })
    expect(config.cluster.discovery).toBeUndefined()
    expect(config.cluster.members).toEqual(['127.0.0.1:4001'])
  })

  it('CLUSTER_DISCOVERY=dns takes CLUSTER_DNS_NAME and the resolver extras', () => {
    const config = readConfig({ CLUSTER_DISCOVERY: 'dns', CLUSTER_DNS_NAME: 'cart.shop.svc.cluster.local', CLUSTER_DNS_SERVERS: '10.0.0.10, 127.0.0.1:5353' })
    expect(config.cluster.discovery).toEqual({ kind: 'dns', name: 'cart.shop.svc.cluster.local', servers: ['10.0.0.10', '127.0.0.1:5353'] })
    expect(() => readConfig({ CLUSTER_DISCOVERY: 'dns' })).toThrow(/needs CLUSTER_DNS_NAME/)
  })

  it('CLUSTER_DISCOVERY=local gives each worker its own route (PM2 instance, node:cluster worker, or pid)', () => {
    expect(readConfig({ CLUSTER_DISCOVERY: 'local', NODE_APP_INSTANCE: '2' })).toMatchObject({ route: 'w2', cluster: { discovery: { kind: 'local' } } })
    expect(readConfig({ CLUSTER_DISCOVERY: 'local' }).route).toBe(`w${process.pid}`)
    expect(readConfig({ CLUSTER_DISCOVERY: 'local', ROUTE: 'mine' }).route).toBe('mine')
  })

  it('refuses an unknown CLUSTER_DISCOVERY, and members next to a discovery, by name', () => {
    expect(() => readConfig({ CLUSTER_DISCOVERY: 'consul' })).toThrow(/CLUSTER_DISCOVERY must be one of static, multicast, dns, local/)
    expect(() => readConfig({ CLUSTER_DISCOVERY: 'local', CLUSTER_MEMBERS: '127.0.0.1:4001' })).toThrow(/one or the other/)
  })
})

describe('examples/kubernetes', () => {
  const read = (file: string) => readFileSync(new URL(`../../examples/kubernetes/${file}`, import.meta.url), 'utf8')

  it('the StatefulSet sets only variables the example reads, and they make a valid DNS-discovery configuration', () => {
    const manifest = read('statefulset.yaml')
    const names = [...manifest.matchAll(/- (?:\{ )?name: ([A-Z_]+)/g)].map((m) => m[1]!)
    expect(names).toEqual(expect.arrayContaining(['ROUTE', 'CLUSTER_HOST', 'CLUSTER_DISCOVERY', 'CLUSTER_DNS_NAME', 'CLUSTER_SECRET']))
    const env: Record<string, string> = { POD_NAMESPACE: 'shop' }
    for (const m of manifest.matchAll(/- \{ name: ([A-Z_]+), value: "?([^"}]+?)"? \}/g)) env[m[1]!] = m[2]!.replace('$(POD_NAMESPACE)', 'shop')
    Object.assign(env, { ROUTE: 'cart-0', CLUSTER_HOST: '10.0.0.7', CLUSTER_SECRET: 'a-secret-from-the-kubernetes-secret' })
    const config = readConfig(env)
    expect(config.cluster.discovery).toEqual({ kind: 'dns', name: 'cart-cluster.shop.svc.cluster.local' })
    expect(manifest).toMatch(/readinessProbe:.*\n\s+httpGet: \{ path: \/cluster\/status/)
    expect(manifest).toMatch(/preStop:/)
    expect(manifest).toMatch(/secretKeyRef: \{ name: cart-cluster, key: secret \}/)
  })

  it('the headless Service publishes pods before they are ready', () => {
    const service = read('service.yaml')
    expect(service).toMatch(/clusterIP: None/)
    expect(service).toMatch(/publishNotReadyAddresses: true/)
  })
})
