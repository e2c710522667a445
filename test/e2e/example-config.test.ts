// The example apps' environment (examples/common/config.js): defaults, the optional extras, and a named error for
// a bad value (the apps print it and exit 1 at start-up instead of failing at the first request).
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
