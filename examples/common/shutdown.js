// The examples' SIGTERM path: a graceful HTTP close, and the signal handling around each server's own stop.

/**
 * Stop accepting, close idle keep-alive connections (nginx keeps some open), let requests in flight
 * finish, and cut whatever is still open after `graceMs`.
 */
export function closeHttpServer(server, graceMs = 3_000) {
  return new Promise((resolve) => {
    server.close(() => resolve())
    // A keep-alive connection becomes idle after its last response: close those as they appear.
    const idle = setInterval(() => server.closeIdleConnections(), 100)
    const cut = setTimeout(() => server.closeAllConnections(), graceMs)
    idle.unref()
    cut.unref()
    server.once('close', () => {
      clearInterval(idle)
      clearTimeout(cut)
    })
    server.closeIdleConnections()
  })
}

/**
 * On SIGTERM or SIGINT, run `stop` once (the server's own: stop accepting, let requests in flight finish with
 * their replication, flush and leave the cluster so peers drop this member at once), then exit 0; exit 1 if
 * that takes over 4.5 s, inside the contract's 5 s. Returns whether a stop has begun, for start-up code that
 * must not report a failure the stop itself caused.
 */
export function exitOnSignals(route, stop) {
  let stopping = false
  async function shutdown(signal) {
    if (stopping) return
    stopping = true
    console.log(`[${route}] ${signal}: draining`)
    setTimeout(() => {
      console.error(`[${route}] shutdown took too long, exiting`)
      process.exit(1)
    }, 4_500).unref()
    await stop()
    console.log(`[${route}] stopped`)
    process.exit(0)
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
  return () => stopping
}
