import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { waitFor } from './wait.js'

/** The Debian package's binary (PROMETHEUS_BIN overrides it). */
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus'

export interface PrometheusServer {
  url: string
  /** An instant query's vector: labels and value of each series. */
  query(promql: string): Promise<Array<{ labels: Record<string, string>; value: number }>>
  /** The last lines Prometheus printed (for failure messages). */
  tail(): string
  stop(): Promise<void>
}

/**
 * A real Prometheus on a free loopback port, with a generated config scraping `targets` (`host:port`) every
 * second, and its storage in a temporary directory removed on stop.
 */
export async function startPrometheus(targets: readonly string[]): Promise<PrometheusServer> {
  if (!existsSync(PROMETHEUS_BIN)) {
    throw new Error(`${PROMETHEUS_BIN} is missing: install Prometheus (\`apt-get install -y prometheus\`; .ci/run does)`)
  }
  const dir = mkdtempSync(join(tmpdir(), 'session-cluster-prometheus-'))
  const config = join(dir, 'prometheus.yml')
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: session-cluster',
      '    static_configs:',
      `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  )
  const port = await freePort()
  const output: string[] = []
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const collect = (chunk: Buffer) => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    if (output.length > 200) output.splice(0, output.length - 200)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `http://127.0.0.1:${port}`
  const tail = () => output.slice(-40).join('\n')
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitFor(
      'Prometheus to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with code ${child.exitCode}\n${tail()}`)
        const res = await fetch(`${url}/-/ready`).catch(() => undefined)
        return res?.ok ? true : undefined
      },
      { timeoutMs: 30_000, intervalMs: 100, describe: tail, rethrow: (e) => e instanceof Error && e.message.startsWith('prometheus exited') },
    )
  } catch (error) {
    await stop()
    throw error
  }
  return {
    url,
    tail,
    stop,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`)
      const body = (await res.json()) as {
        status: string
        error?: string
        data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }
      }
      if (body.status !== 'success' || !body.data) throw new Error(`query ${promql} failed: ${body.error ?? res.status}`)
      return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }))
    },
  }
}
