// State transfer on join: a sender process holding N (~1 KiB) sessions, a joining process started against it;
// time from the joiner's start to ready (stateTransfer 'complete', sessions === N) and the sender's extra memory
// (process.memoryUsage() sampled every ~20 ms, peak minus a post-gc baseline).
//   node bench/replication/state-transfer.mjs [--sessions=100000] [--runs=3] [--chunks=262144,65536,1048576] [--plain]
import { args, fmt, machine, median, MiB, printMachine, startNode, table } from './lib.mjs'

const opt = args({ sessions: 100_000, runs: 3, chunks: '262144,65536,1048576', plain: false, interval: 20 })
const SECRET = 'replication-bench-secret-0123456789'
const chunkSizes = String(opt.chunks).split(',').map(Number)
printMachine()
console.log(`state transfer: ${opt.sessions} sessions of ~1 KiB, ${opt.plain ? 'plaintext' : 'AES-GCM'}, ${opt.runs} runs per chunk size`)

const results = []
for (const chunk of chunkSizes) {
  for (let run = 1; run <= opt.runs; run++) {
    const common = { stateTransferChunkBytes: chunk, stateTransferTimeoutMs: 120_000, ...(opt.plain ? {} : { secret: SECRET }) }
    const sender = await startNode('sender', common, { execArgv: ['--expose-gc'] })
    let joiner
    try {
      const empty = await sender.call('gc')
      const fill = await sender.call('fill', { count: opt.sessions })
      const baseline = await sender.call('sampler-start', { intervalMs: opt.interval })
      joiner = await startNode('joiner', { ...common, members: [`127.0.0.1:${sender.port}`] }, { execArgv: ['--expose-gc', ...(process.env.JOINER_FLAGS ?? '').split(' ').filter(Boolean)] })
      const mem = await sender.call('sampler-stop')
      const st = joiner.info.status
      const ok = st.stateTransfer === 'complete' && st.sessions === opt.sessions
      const joinerMem = await joiner.call('gc')
      const counters = await sender.call('counters')
      const row = {
        chunk,
        run,
        ok,
        startToReadyMs: joiner.info.startToReadyMs,
        spawnToReadyMs: joiner.info.spawnToReadyMs,
        joinerCpuMs: joiner.info.cpuMs,
        senderCpuMs: mem.cpuMs,
        rssExtraMiB: (mem.peak.rss - mem.baseline.rss) / MiB,
        heapExtraMiB: (mem.peak.heapUsed - mem.baseline.heapUsed) / MiB,
        extExtraMiB: (mem.peak.external - mem.baseline.external) / MiB,
        samples: mem.samples,
        chunksSent: counters['state-transfer.chunks-sent'] ?? 0,
        wireMiB: (counters['transport.bytes.sent'] ?? 0) / MiB,
        senderHeapPerSession: (baseline.heapUsed - empty.heapUsed) / opt.sessions,
        joinerHeapPerSession: (joinerMem.heapUsed - empty.heapUsed) / opt.sessions,
        // What the joiner held at its peak beyond the sessions it ends with (after gc): chunks in flight, garbage.
        joinerPeakOverMiB: (joiner.info.startPeak.heapUsed - joinerMem.heapUsed) / MiB,
        joinerPeakRssMiB: joiner.info.startPeak.rss / MiB,
        fillMs: fill.ms,
      }
      if (!ok) console.error(`run ${run} chunk ${chunk}: joiner not complete: ${st.stateTransfer} with ${st.sessions} sessions`)
      results.push(row)
      console.log(
        `chunk=${chunk} run=${run}: ready ${fmt(row.startToReadyMs, 0)} ms (fork->ready ${fmt(row.spawnToReadyMs, 0)} ms), sender +${fmt(row.rssExtraMiB, 1)} MiB rss, +${fmt(row.heapExtraMiB, 1)} MiB heap, ${row.samples} samples, ${row.chunksSent} chunks, ok=${ok}`,
      )
    } finally {
      await joiner?.kill()
      await sender.kill()
    }
  }
}

console.log('\nper run:')
table(
  results.map((r) => ({
    chunk: `${r.chunk / 1024} KiB`,
    run: r.run,
    complete: r.ok,
    'start->ready ms': fmt(r.startToReadyMs, 0),
    'fork->ready ms': fmt(r.spawnToReadyMs, 0),
    'joiner cpu ms': fmt(r.joinerCpuMs, 0),
    'sender cpu ms': fmt(r.senderCpuMs, 0),
    'sender +rss MiB': fmt(r.rssExtraMiB, 1),
    'sender +heap MiB': fmt(r.heapExtraMiB, 1),
    'sender +external MiB': fmt(r.extExtraMiB, 1),
    'joiner peak heap over final MiB': fmt(r.joinerPeakOverMiB, 1),
    chunks: r.chunksSent,
    'wire MiB': fmt(r.wireMiB, 1),
  })),
)
console.log('\nmedians (targets: < 2000 ms to ready, < 64 MiB sender extra):')
table(
  chunkSizes.map((chunk) => {
    const rs = results.filter((r) => r.chunk === chunk)
    const m = (k) => median(rs.map((r) => r[k]))
    return {
      chunk: `${chunk / 1024} KiB`,
      runs: rs.length,
      'all complete': rs.every((r) => r.ok),
      'start->ready ms': fmt(m('startToReadyMs'), 0),
      'fork->ready ms': fmt(m('spawnToReadyMs'), 0),
      'joiner cpu ms': fmt(m('joinerCpuMs'), 0),
      'sender cpu ms': fmt(m('senderCpuMs'), 0),
      'sender +rss MiB': fmt(m('rssExtraMiB'), 1),
      'sender +heap MiB': fmt(m('heapExtraMiB'), 1),
      'sender B/session': fmt(m('senderHeapPerSession'), 0),
      'joiner B/session': fmt(m('joinerHeapPerSession'), 0),
      'joiner peak heap over final MiB': fmt(m('joinerPeakOverMiB'), 1),
      'joiner peak rss MiB': fmt(m('joinerPeakRssMiB'), 0),
    }
  }),
)
console.log(JSON.stringify({ bench: 'state-transfer', machine: machine(), options: opt, results }))
