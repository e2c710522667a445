export { MemoryNetwork, NO_FAULTS } from './memory-network.js'
export type { MemoryNetworkInit, NetworkFaults } from './memory-network.js'
export { memoryTransport } from './memory-transport.js'
export type { MemoryTransportInit } from './memory-transport.js'
