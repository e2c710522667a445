import type { Address } from '../src/member.js'
import { MemoryNetwork, memoryTransport, transportComplianceSuite } from '@session-cluster/core/testing'
import type { Transport } from '../src/transport/transport.js'

transportComplianceSuite('memory', async (count) => {
  const network = new MemoryNetwork()
  const created: Transport[] = []
  const create = (address?: Address) => {
    const transport = memoryTransport({ network, ...address })
    created.push(transport)
    return transport
  }
  const transports = Array.from({ length: count }, () => create())
  await Promise.all(transports.map((t) => t.start()))
  return {
    transports,
    createAt: create,
    teardown: async () => {
      await Promise.all(created.map((t) => t.stop()))
    },
  }
})
