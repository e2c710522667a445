/** Structured logging, shaped so that pino (Fastify's logger) and console both fit through a thin wrapper. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

const noop = () => {}

/** Discards everything: the default in tests and libraries that embed us quietly. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }

/** Writes `info` and above to stderr as one line each; `debug` only when `SESSION_CLUSTER_DEBUG` is set. */
export function consoleLogger(prefix = 'session-cluster'): Logger {
  const write = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    const extra = fields && Object.keys(fields).length > 0 ? ` ${safeJson(fields)}` : ''
    process.stderr.write(`${new Date().toISOString()} ${level} [${prefix}] ${msg}${extra}\n`)
  }
  return {
    debug: process.env.SESSION_CLUSTER_DEBUG ? write('DEBUG') : noop,
    info: write('INFO'),
    warn: write('WARN'),
    error: write('ERROR'),
  }
}

/** A logger with the same fields added to every line (component name, route...). */
export function childLogger(parent: Logger, bound: Record<string, unknown>): Logger {
  return {
    debug: (m, f) => parent.debug(m, { ...bound, ...f }),
    info: (m, f) => parent.info(m, { ...bound, ...f }),
    warn: (m, f) => parent.warn(m, { ...bound, ...f }),
    error: (m, f) => parent.error(m, { ...bound, ...f }),
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) =>
      v instanceof Error ? { name: v.name, message: v.message } : typeof v === 'bigint' ? String(v) : v,
    )
  } catch {
    return '[unserializable fields]'
  }
}
