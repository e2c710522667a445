// The Express cart on every core of this host with node:cluster, and nothing to configure: the workers share the
// HTTP port (the primary balances connections), each binds its own cluster port of CLUSTER_PORT..+100 and finds
// its siblings by probing that range (CLUSTER_DISCOVERY=local). A worker that dies is forked again and pulls the
// sessions back from its siblings. WORKERS sets how many (default: one per core).
//
//   node examples/express-cart/cluster.js            # then: curl -c j -b j localhost:3000/cart?add=apple
import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'

if (cluster.isPrimary) {
  process.env.CLUSTER_DISCOVERY ??= 'local'
  const workers = Number(process.env.WORKERS) || availableParallelism()
  let stopping = false
  cluster.on('online', (worker) => console.log(`worker ${worker.id} pid ${worker.process.pid} online`))
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    console.log(`worker ${worker.id} pid ${worker.process.pid} exited (${signal ?? code}): forking another`)
    cluster.fork()
  })
  for (let i = 0; i < workers; i++) cluster.fork()
  // SIGTERM: every worker drains (its own SIGTERM path), then the primary exits.
  const stop = (signal) => {
    if (stopping) return
    stopping = true
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal)
    const done = () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0)
    cluster.on('exit', done)
    done()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGTERM'))
} else {
  await import('./server.js')
}
