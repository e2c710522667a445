export { tcpTransport } from './tcp-transport.js'
export { TCP_DEFAULTS, type TcpTransportInit } from './options.js'
