// Graceful HTTP close for the examples' SIGTERM path.

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
