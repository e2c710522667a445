import type { Logger } from '@session-cluster/core'
import type { FastifyBaseLogger } from 'fastify'

/**
 * The core's `(msg, fields)` logger over pino's `(obj, msg)`: cluster events land in Fastify's log, with a
 * field `error` passed as pino's `err` so its error serializer (stack, cause) applies.
 */
export function pinoLogger(log: FastifyBaseLogger): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (!fields) {
        log[level](msg)
        return
      }
      const { error, ...rest } = fields
      log[level](error === undefined ? rest : { ...rest, err: error }, msg)
    }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
