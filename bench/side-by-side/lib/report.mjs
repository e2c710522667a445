// Turning measurements into figures: the per-configuration summary (median over rounds), the Markdown
// tables the harness prints (pasted as is into bench/RESULTS.md), and a hand-written SVG bar chart.

export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-')
const ratio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-')

/**
 * From one run's raw figures to the numbers the tables show. `cpuDeltas`: [{role, us}] over the measured
 * window; `counters`: per node {before, after} of /cluster/status counters (session-cluster only).
 */
export function summarizeRun({ wrk, cpuDeltas, counters, rss }) {
  const requests = wrk.requests
  const seconds = wrk.duration_us / 1e6
  const sumCpu = (pred) => cpuDeltas.filter((d) => pred(d.role)).reduce((a, d) => a + d.us, 0)
  const isNode = (role) => /^node\d+$/.test(role)
  const counterDelta = (name) =>
    counters ? counters.reduce((a, c) => a + ((c.after[name] ?? 0) - (c.before[name] ?? 0)), 0) : undefined
  const frames = counterDelta('transport.frames.sent')
  const bytes = counterDelta('transport.bytes.sent')
  const nodeRss = rss.filter((r) => isNode(r.role)).map((r) => r.bytes)
  return {
    requests,
    seconds,
    rps: requests / seconds,
    latencyMs: {
      p50: wrk.latency_us.p50 / 1e3,
      p90: wrk.latency_us.p90 / 1e3,
      p99: wrk.latency_us.p99 / 1e3,
      max: wrk.latency_us.max / 1e3,
    },
    non2xx: wrk.errors.status,
    socketErrors: wrk.errors.connect + wrk.errors.read + wrk.errors.write + wrk.errors.timeout,
    sessionsStarted: wrk.sessions,
    sessionsLost: wrk.lost,
    cpu: {
      totalUs: sumCpu(() => true),
      perRequestUs: sumCpu(() => true) / requests,
      appsPerRequestUs: sumCpu(isNode) / requests,
      redisPerRequestUs: sumCpu((r) => r === 'redis') / requests,
      nginxPerRequestUs: sumCpu((r) => r.startsWith('nginx')) / requests,
      byProcess: cpuDeltas,
    },
    cluster: counters ? { frames, bytes, framesPerRequest: frames / requests, bytesPerRequest: bytes / requests } : undefined,
    rss: {
      perNodeMiB: nodeRss.reduce((a, b) => a + b, 0) / nodeRss.length / 2 ** 20,
      totalMiB: rss.reduce((a, r) => a + (r.bytes ?? 0), 0) / 2 ** 20,
      byProcess: rss,
    },
  }
}

/** One row per (workload, framework, store): the median over rounds of every figure. */
export function aggregate(runs) {
  const keyOf = (r) => `${r.workload}|${r.framework}|${r.store}`
  const groups = new Map()
  for (const r of runs) {
    if (!groups.has(keyOf(r))) groups.set(keyOf(r), [])
    groups.get(keyOf(r)).push(r)
  }
  return [...groups.values()].map((rs) => {
    const m = (get) => median(rs.map(get))
    const first = rs[0]
    return {
      workload: first.workload,
      workloadLabel: first.workloadLabel,
      framework: first.framework,
      store: first.store,
      storeLabel: first.storeLabel,
      nodes: first.nodes,
      rounds: rs.length,
      rps: m((r) => r.rps),
      p50: m((r) => r.latencyMs.p50),
      p99: m((r) => r.latencyMs.p99),
      cpuUs: m((r) => r.cpu.perRequestUs),
      appsUs: m((r) => r.cpu.appsPerRequestUs),
      redisUs: m((r) => r.cpu.redisPerRequestUs),
      nginxUs: m((r) => r.cpu.nginxPerRequestUs),
      framesPerRequest: first.cluster ? m((r) => r.cluster.framesPerRequest) : undefined,
      bytesPerRequest: first.cluster ? m((r) => r.cluster.bytesPerRequest) : undefined,
      non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
      socketErrors: rs.reduce((a, r) => a + r.socketErrors, 0),
      lost: rs.reduce((a, r) => a + r.sessionsLost, 0),
      rssPerNodeMiB: m((r) => r.rss.perNodeMiB),
      rssTotalMiB: m((r) => r.rss.totalMiB),
    }
  })
}

function markdownTable(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export function resultsTable(rows) {
  return markdownTable(
    [
      'workload', 'framework', 'store', 'nodes', 'req/s', 'p50 ms', 'p99 ms',
      'CPU us/req (apps + redis + nginx)', 'frames/req', 'bytes/req', 'non-2xx / socket errors', 'lost sessions', 'RSS MiB per node / total',
    ],
    rows.map((r) => [
      r.workloadLabel,
      r.framework,
      r.storeLabel,
      r.nodes,
      fmt(r.rps),
      fmt(r.p50, 1),
      fmt(r.p99, 1),
      `**${fmt(r.cpuUs)}** (${fmt(r.appsUs)} + ${fmt(r.redisUs)} + ${fmt(r.nginxUs)})`,
      r.framesPerRequest === undefined ? '' : fmt(r.framesPerRequest, 2),
      r.bytesPerRequest === undefined ? '' : fmt(r.bytesPerRequest),
      `${r.non2xx} / ${r.socketErrors}`,
      r.lost,
      `${fmt(r.rssPerNodeMiB)} / ${fmt(r.rssTotalMiB)}`,
    ]),
  )
}

/** Every store against the MemoryStore process and against connect-redis, per workload and framework. */
export function ratioRows(rows) {
  const find = (r, store) => rows.find((x) => x.workload === r.workload && x.framework === r.framework && x.store === store)
  return rows
    .filter((r) => r.store !== 'memory')
    .map((r) => {
      const mem = find(r, 'memory')
      const redis = find(r, 'redis')
      return {
        workloadLabel: r.workloadLabel,
        framework: r.framework,
        storeLabel: r.storeLabel,
        rpsVsMemory: mem ? r.rps / mem.rps : Number.NaN,
        cpuVsMemory: mem ? r.cpuUs / mem.cpuUs : Number.NaN,
        rpsVsRedis: redis && r.store !== 'redis' ? r.rps / redis.rps : Number.NaN,
        cpuVsRedis: redis && r.store !== 'redis' ? r.cpuUs / redis.cpuUs : Number.NaN,
      }
    })
    .filter((r) => Number.isFinite(r.rpsVsMemory) || Number.isFinite(r.rpsVsRedis))
}

export function ratioTable(rows) {
  return markdownTable(
    ['workload', 'framework', 'store', 'req/s vs MemoryStore', 'CPU/req vs MemoryStore', 'req/s vs connect-redis', 'CPU/req vs connect-redis'],
    ratioRows(rows).map((r) => [
      r.workloadLabel,
      r.framework,
      r.storeLabel,
      ratio(r.rpsVsMemory),
      ratio(r.cpuVsMemory),
      ratio(r.rpsVsRedis),
      ratio(r.cpuVsRedis),
    ]),
  )
}

// ---------------------------------------------------------------------------------------------------------
// SVG chart: two panels (req/s, CPU us per request), one group of bars per workload x framework, one bar per
// store. Written by hand: no chart library for one picture.

const COLORS = { memory: '#8c8c8c', unshared: '#bdbdbd', redis: '#d6453d', sync: '#2f6fd6', async: '#7fb0f0' }
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function renderSvg(rows, { title, subtitle }) {
  const groups = []
  for (const r of rows) {
    const key = `${r.workloadLabel}, ${r.framework}`
    let g = groups.find((x) => x.key === key)
    if (!g) groups.push((g = { key, rows: [] }))
    g.rows.push(r)
  }
  const stores = [...new Set(rows.map((r) => r.store))]
  const storeLabel = (s) => rows.find((r) => r.store === s).storeLabel
  const width = Math.max(640, 90 + groups.length * (stores.length * 34 + 40))
  const panelHeight = 230
  const top = 70
  const left = 70
  const plotWidth = width - left - 20
  const out = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${top + 2 * (panelHeight + 60) + 20}" role="img" font-family="sans-serif" font-size="11">`)
  out.push(`<title>${esc(`${title}: ${subtitle}`)}</title>`)
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`)
  out.push(`<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`)
  out.push(`<text x="${left}" y="40" fill="#555">${esc(subtitle)}</text>`)
  // legend
  stores.forEach((s, i) => {
    const x = left + i * 170
    out.push(`<rect x="${x}" y="50" width="12" height="12" fill="${COLORS[s] ?? '#444'}"/>`)
    out.push(`<text x="${x + 17}" y="60">${esc(storeLabel(s))}</text>`)
  })
  const panels = [
    { label: 'requests per second (higher is better)', value: (r) => r.rps, digits: 0 },
    { label: 'server CPU microseconds per request, all processes (lower is better)', value: (r) => r.cpuUs, digits: 0 },
  ]
  panels.forEach((panel, p) => {
    const y0 = top + 20 + p * (panelHeight + 60) // panel top
    const base = y0 + panelHeight // bar baseline
    const max = Math.max(...rows.map(panel.value).filter(Number.isFinite), 1)
    const scale = (panelHeight - 20) / niceCeil(max)
    out.push(`<text x="${left}" y="${y0 - 6}" font-weight="bold">${esc(panel.label)}</text>`)
    // grid lines at nice steps
    const step = niceCeil(max) / 4
    for (let k = 0; k <= 4; k++) {
      const y = base - k * step * scale
      out.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e3e3e3"/>`)
      out.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#666">${fmt(k * step)}</text>`)
    }
    const groupWidth = plotWidth / groups.length
    groups.forEach((g, gi) => {
      const barWidth = Math.min(34, (groupWidth - 30) / stores.length)
      const gx = left + gi * groupWidth + (groupWidth - barWidth * stores.length) / 2
      stores.forEach((s, si) => {
        const r = g.rows.find((x) => x.store === s)
        if (!r || !Number.isFinite(panel.value(r))) return
        const h = panel.value(r) * scale
        const x = gx + si * barWidth
        out.push(`<rect x="${x.toFixed(1)}" y="${(base - h).toFixed(1)}" width="${(barWidth - 3).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[s] ?? '#444'}"><title>${esc(`${g.key}, ${storeLabel(s)}: ${fmt(panel.value(r), panel.digits)}`)}</title></rect>`)
        out.push(`<text x="${(x + (barWidth - 3) / 2).toFixed(1)}" y="${(base - h - 3).toFixed(1)}" text-anchor="middle" font-size="9">${fmt(panel.value(r), panel.digits)}</text>`)
      })
      out.push(`<text x="${(left + gi * groupWidth + groupWidth / 2).toFixed(1)}" y="${base + 15}" text-anchor="middle">${esc(g.key)}</text>`)
    })
    out.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${base}" y2="${base}" stroke="#333"/>`)
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

/** The smallest 1, 2, 2.5 or 5 x 10^k at or above x: a round top for the axis. */
function niceCeil(x) {
  const p = 10 ** Math.floor(Math.log10(x))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p
  return 10 * p
}
