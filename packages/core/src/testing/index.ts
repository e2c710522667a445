/**
 * @session-cluster/core/testing: what tests of an application, an adapter or a transport use. An in-memory
 * network with injectable faults, a clock the test drives, and the compliance suites every transport and
 * every store of this project passes (they run under vitest, an optional peer dependency).
 *
 * @example
 * const network = new MemoryNetwork()
 * const clock = new ManualClock()
 * const cluster = createSessionCluster({ route: 'a', transport: memoryTransport({ network }), clock })
 */
export { ManualClock } from '../clock/manual-clock.js'
export { MemoryNetwork, type MemoryNetworkInit, NO_FAULTS, type NetworkFaults } from '../transport/memory/memory-network.js'
export { type MemoryTransportInit, memoryTransport } from '../transport/memory/memory-transport.js'
export { type CompliantStore, type StoreHarness, storeComplianceSuite } from './store-compliance.js'
export { type TransportHarness, type TransportHarnessFactory, transportComplianceSuite } from './transport-compliance.js'
