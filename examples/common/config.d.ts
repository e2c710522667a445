/** The example apps' configuration, read from the environment (see config.js). */
export interface ExampleConfig {
  host: string
  port: number
  route: string
  cluster: {
    route: string
    host: string
    port: number
    advertiseHost?: string
    members: string[]
    discovery?:
      | { kind: 'local' }
      | { kind: 'multicast'; address?: string; port?: number; interface?: string }
      | { kind: 'dns'; name: string; servers?: string[]; intervalMs?: number; srv?: boolean }
    autoBind?: number
    clusterName?: string
    secret?: string
    replication: 'sync' | 'async'
    manager: 'delta' | 'backup'
    backups?: number
    heartbeatIntervalMs?: number
    suspectTimeoutMs?: number
    verifyTimeoutMs?: number
    ackTimeoutMs?: number
  }
  manager: 'delta' | 'backup'
  rebind: 'failover' | 'always' | false
  cookieSecret: string
}
/** Read and validate the example's environment; throws an Error naming the bad variable. */
export declare function readConfig(env?: Record<string, string | undefined>): ExampleConfig
export declare function configOrExit(env?: Record<string, string | undefined>): ExampleConfig
