import { aesGcmProtector } from '../src/crypto/aes-gcm-protector.js'
import type { FrameProtector } from '../src/crypto/frame-protector.js'
import { plaintextProtector } from '../src/crypto/plaintext-protector.js'
import type { Address } from '../src/member.js'
import { transportComplianceSuite, type TransportHarnessFactory } from '@session-cluster/core/testing'
import { tcpTransport } from '../src/transport/tcp/index.js'
import type { Transport } from '../src/transport/transport.js'

function tcpHarness(protector: () => FrameProtector): TransportHarnessFactory {
  return async (count) => {
    const created: Transport[] = []
    const create = (port: number) => {
      // Fast retries so the late-listener case does not wait out a long backoff.
      const transport = tcpTransport({ port, protector: protector(), reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 200 })
      created.push(transport)
      return transport
    }
    const transports = Array.from({ length: count }, () => create(0))
    await Promise.all(transports.map((t) => t.start()))
    return {
      transports,
      createAt: (address: Address) => create(address.port),
      teardown: async () => {
        await Promise.all(created.map((t) => t.stop()))
      },
    }
  }
}

transportComplianceSuite('tcp, plaintext', tcpHarness(plaintextProtector))
transportComplianceSuite('tcp, aes-gcm', tcpHarness(() => aesGcmProtector({ secret: 'compliance secret', clusterName: 'compliance' })))
