import { Signer, type UnsignResult } from '@fastify/cookie'

/** Enough for every request in flight on a busy node; cleared when full (a miss only costs one HMAC). */
const REMEMBERED = 4096

/**
 * @fastify/cookie's Signer, minus one HMAC per request. @fastify/session verifies the session cookie (`unsign`),
 * loads the session from the store, then signs the same id again to build the Session (it reuses a signature only
 * for the object its own MemoryStore hands back, never for one an external store returns). A cookie that verified
 * under the current secret already is that signature: HMAC is deterministic, and `unsign` compared it in full, so
 * `sign` returns it instead of computing it again. A cookie signed by an older, rotated secret is not remembered:
 * signing must then produce the current secret's signature, which renews the cookie.
 */
export class RememberingSigner {
  readonly #signer: Signer
  readonly #signed = new Map<string, string>()

  constructor(secret: string | string[]) {
    this.#signer = new Signer(secret, 'sha256')
  }

  sign(value: string): string {
    return this.#signed.get(value) ?? this.#signer.sign(value)
  }

  unsign(signedValue: string): UnsignResult {
    const result = this.#signer.unsign(signedValue)
    if (result.valid && !result.renew) {
      if (this.#signed.size >= REMEMBERED) this.#signed.clear()
      this.#signed.set(result.value, signedValue)
    }
    return result
  }
}
