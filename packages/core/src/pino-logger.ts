import type { Logger } from './logger.js'

/** What pino (and Fastify's `fastify.log`, and loggers shaped like it) offers: `(object, message)` per level. */
export interface PinoLike {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/**
 * The core's `(msg, fields)` logger over pino's `(obj, msg)`: cluster events land in the application's log, with a
 * field `error` passed as pino's `err` so its error serializer (stack, cause) applies.
 *
 * @example
 * createSessionCluster({ route: 'node1', logger: pinoLogger(pino().child({ component: 'session-cluster' })) })
 */
export function pinoLogger(log: PinoLike): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (!fields) {
        log[level]({}, msg)
        return
      }
      const { error, ...rest } = fields
      log[level](error === undefined ? rest : { ...rest, err: error }, msg)
    }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
