// Fastify's `fastify.log` is pino: the core's adapter fits it as is.
export { pinoLogger } from '@session-cluster/core'
