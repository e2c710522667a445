import { Agent, request } from 'node:http'

export interface HttpResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  /** Raw Set-Cookie headers of this response. */
  setCookies: string[]
  json<T = unknown>(): T
}

/** A tiny cookie jar: name -> value, fed by Set-Cookie, sent back as one Cookie header. No domains or paths. */
export class CookieJar {
  readonly cookies = new Map<string, string>()

  store(setCookies: string[]): void {
    for (const header of setCookies) {
      const [pair = '', ...attrs] = header.split(';')
      const eq = pair.indexOf('=')
      if (eq <= 0) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const expired = attrs.some((a) => {
        const [k = '', v = ''] = a.trim().split('=')
        if (k.toLowerCase() === 'max-age') return Number(v) <= 0
        if (k.toLowerCase() === 'expires') return Date.parse(v) <= Date.now()
        return false
      })
      if (expired) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }

  header(): string | undefined {
    if (this.cookies.size === 0) return undefined
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  get(name: string): string | undefined {
    return this.cookies.get(name)
  }

  clone(): CookieJar {
    const jar = new CookieJar()
    for (const [k, v] of this.cookies) jar.cookies.set(k, v)
    return jar
  }
}

/**
 * The route a session cookie carries: `s%3A<random>.<route>.<sig>` (express-session) or
 * `<random>.<route>.<sig>` (@fastify/session), the route before the signature.
 */
export function routeOfSid(sid: string | undefined): string | undefined {
  if (!sid) return undefined
  const parts = decodeURIComponent(sid).replace(/^s:/, '').split('.')
  return parts.length >= 3 ? parts[parts.length - 2] : undefined
}

export interface RequestRecord {
  method: string
  path: string
  status: number
  ms: number
}

/**
 * HTTP client for one simulated browser: a cookie jar, one keep-alive connection, and a record of every
 * request so a test can assert that none failed.
 */
export class HttpClient {
  readonly jar: CookieJar
  readonly log: RequestRecord[] = []
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 })

  constructor(
    readonly baseUrl: string,
    options: { jar?: CookieJar } = {},
  ) {
    this.jar = options.jar ?? new CookieJar()
  }

  /** The route of the `sid` cookie currently in the jar. */
  get route(): string | undefined {
    return routeOfSid(this.jar.get('sid'))
  }

  /** Requests that did not answer 200 (or 303 for the form post). */
  get failures(): RequestRecord[] {
    return this.log.filter((r) => r.status !== 200 && r.status !== 303)
  }

  get(path: string): Promise<HttpResponse> {
    return this.send('GET', path)
  }

  postForm(path: string, form: Record<string, string>): Promise<HttpResponse> {
    return this.send('POST', path, new URLSearchParams(form).toString(), 'application/x-www-form-urlencoded')
  }

  /** GET that must answer 200 JSON. */
  async getJson<T = unknown>(path: string): Promise<T> {
    const res = await this.get(path)
    if (res.status !== 200) throw new Error(`GET ${path} via ${this.baseUrl}: ${res.status} ${res.body.slice(0, 300)}`)
    return res.json<T>()
  }

  send(method: string, path: string, body?: string, contentType?: string, timeoutMs = 30_000): Promise<HttpResponse> {
    const url = new URL(path, this.baseUrl)
    const headers: Record<string, string> = {}
    const cookie = this.jar.header()
    if (cookie) headers.cookie = cookie
    if (body !== undefined) {
      headers['content-type'] = contentType ?? 'text/plain'
      headers['content-length'] = String(Buffer.byteLength(body))
    }
    const started = Date.now()
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = request(url, { method, headers, agent: this.agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const setCookies = res.headers['set-cookie'] ?? []
          this.jar.store(setCookies)
          const text = Buffer.concat(chunks).toString('utf8')
          const status = res.statusCode ?? 0
          this.log.push({ method, path, status, ms: Date.now() - started })
          resolve({
            status,
            headers: res.headers,
            body: text,
            setCookies,
            json: <T>() => JSON.parse(text) as T,
          })
        })
      })
      req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)))
      req.on('error', (err) => {
        this.log.push({ method, path, status: 0, ms: Date.now() - started })
        reject(err)
      })
      req.end(body)
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

/** One request without a cookie jar or keep-alive (health checks). */
export async function fetchStatus(url: string, timeoutMs = 1_000): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  return { status: res.status, body: await res.text() }
}
