export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Poll `probe` every `intervalMs` until it returns a value other than undefined, or fail after `timeoutMs`
 * with `describe()` in the message (a bounded wait, never a blind sleep).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  {
    timeoutMs = 10_000,
    intervalMs = 50,
    describe,
    rethrow,
  }: { timeoutMs?: number; intervalMs?: number; describe?: () => string; rethrow?: (err: unknown) => boolean } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (err) {
      if (rethrow?.(err)) throw err
      lastError = err
    }
    if (Date.now() >= deadline) {
      const detail = describe ? `\n${describe()}` : ''
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${detail}`)
    }
    await sleep(intervalMs)
  }
}
