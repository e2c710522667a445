import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Resolver } from 'node:dns/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { waitFor } from './wait.js'

export const DNSMASQ = '/usr/sbin/dnsmasq'
export const DNSMASQ_MISSING = `${DNSMASQ} is missing: install the Debian package dnsmasq (.ci/run does)`

export interface Dnsmasq {
  /** `127.0.0.1:<port>`, for a resolver's servers. */
  server: string
  /** Replace the name's addresses and make dnsmasq reread them (SIGHUP), as a headless service's endpoints change. */
  setAddresses(addresses: readonly string[]): void
  output(): string
  stop(): Promise<void>
}

/**
 * A private dnsmasq on a free loopback port (foreground, no system resolver, no /etc/hosts) answering A records of
 * `name` from a hosts file it rereads on SIGHUP, and SRV `_cluster._tcp.<name>` → `name`:`srvPort`.
 */
export async function startDnsmasq({ name, addresses, srvPort }: { name: string; addresses: readonly string[]; srvPort: number }): Promise<Dnsmasq> {
  if (!existsSync(DNSMASQ)) throw new Error(DNSMASQ_MISSING)
  const dir = mkdtempSync(join(tmpdir(), 'dnsmasq-'))
  const hosts = join(dir, 'hosts')
  const write = (list: readonly string[]) => writeFileSync(hosts, list.map((a) => `${a} ${name}\n`).join(''), { mode: 0o644 })
  write(addresses)
  const port = await freePort()
  const output: string[] = []
  const child: ChildProcess = spawn(
    DNSMASQ,
    [
      '--keep-in-foreground',
      '--user=root', // keep reading the test's temp dir after start
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      `--addn-hosts=${hosts}`,
      '--local-ttl=0',
      '--no-negcache',
      // Authoritative for the test's domain: NODATA for AAAA, NXDOMAIN for unknown names (no upstream to ask).
      `--local=/${name.split('.').slice(-1)[0]}/`,
      '--pid-file=',
      `--srv-host=_cluster._tcp.${name},${name},${srvPort}`,
      '--log-facility=-',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const collect = (chunk: Buffer) => output.push(...chunk.toString('utf8').split('\n').filter(Boolean))
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const server = `127.0.0.1:${port}`
  const resolver = new Resolver({ timeout: 500, tries: 1 })
  resolver.setServers([server])
  await waitFor(
    `dnsmasq on ${server} to answer`,
    async () => {
      if (child.exitCode !== null) throw new Error(`dnsmasq exited with ${child.exitCode}: ${output.join('\n')}`)
      return (await resolver.resolve4(name)).length === addresses.length ? true : undefined
    },
    { timeoutMs: 10_000, intervalMs: 50, describe: () => output.join('\n') },
  )
  return {
    server,
    setAddresses(list) {
      write(list)
      child.kill('SIGHUP')
    },
    output: () => output.join('\n'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
