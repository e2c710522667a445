// Every ```ts block of the READMEs and docs/ is type-checked, strict, against the packages' sources: a snippet
// that stops compiling fails here. (```js and ```sh blocks are not checked: they show other libraries' code
// or shell commands.) Each block becomes a module placed in the package folder its imports need (so `express`
// or `fastify` resolve from that package's node_modules); all of them form one program, as a reader combines
// a README's typing section with its example.
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'

const REPO = new URL('../../', import.meta.url).pathname
const SNIPPET_DIR = '.doc-snippets'
const documents = [
  'README.md',
  ...['core', 'express', 'fastify', 'prometheus'].map((pkg) => `packages/${pkg}/README.md`),
  ...readdirSync(join(REPO, 'docs'))
    .filter((file) => file.endsWith('.md'))
    .map((file) => `docs/${file}`),
]

interface Snippet {
  document: string
  line: number
  code: string
}

function snippetsOf(document: string): Snippet[] {
  const lines = readFileSync(join(REPO, document), 'utf8').split('\n')
  const snippets: Snippet[] = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```ts') continue
    const end = lines.findIndex((line, j) => j > i && line.trim() === '```')
    snippets.push({ document, line: i + 1, code: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return snippets
}

/** The package whose node_modules hold what the snippet imports. */
function packageFor(code: string): string {
  if (/from '(@session-cluster\/prometheus|prom-client)'/.test(code)) return 'prometheus'
  if (/from '(@session-cluster\/fastify|fastify|@fastify\/[a-z]+)'|declare module 'fastify'/.test(code)) return 'fastify'
  if (/from '(@session-cluster\/express|express|express-session)'|declare module 'express-session'/.test(code)) return 'express'
  return 'core'
}

const written: string[] = []
afterAll(() => {
  for (const dir of written) rmSync(dir, { recursive: true, force: true })
})

describe('documentation snippets', () => {
  const snippets = documents.flatMap(snippetsOf)

  it('exist in the READMEs and in docs/', () => {
    expect(snippets.length).toBeGreaterThan(8)
    expect(new Set(snippets.map((s) => s.document.split('/')[0])).size).toBeGreaterThan(2)
  })

  it('type-check under strict TypeScript', async () => {
    const files: Record<string, string> = {}
    for (const snippet of snippets) {
      const dir = join(REPO, 'packages', packageFor(snippet.code), SNIPPET_DIR)
      if (!written.includes(dir)) {
        rmSync(dir, { recursive: true, force: true })
        mkdirSync(dir, { recursive: true })
        written.push(dir)
      }
      const file = join(dir, `${snippet.document.replace(/[/.]/g, '_')}_line${snippet.line}.ts`)
      // `export {}`: a snippet is a module (its `declare module` blocks augment, its names stay its own).
      writeFileSync(file, `${snippet.code}\nexport {}\n`)
      files[relative(REPO, file)] = `${snippet.document}:${snippet.line}`
    }
    const tsconfig = join(REPO, 'packages', SNIPPET_DIR, 'tsconfig.json')
    mkdirSync(join(REPO, 'packages', SNIPPET_DIR), { recursive: true })
    written.push(join(REPO, 'packages', SNIPPET_DIR))
    writeFileSync(
      tsconfig,
      JSON.stringify({
        extends: '../../tsconfig.base.json',
        compilerOptions: { noEmit: true },
        include: written.filter((dir) => dir.endsWith(`/${SNIPPET_DIR}`) && !dir.endsWith(`packages/${SNIPPET_DIR}`)).map((dir) => `${dir}/*.ts`),
      }),
    )
    const tsc = join(REPO, 'node_modules/typescript/bin/tsc')
    const result = await promisify(execFile)(process.execPath, [tsc, '-p', tsconfig], { cwd: REPO }).catch((err) => err as { stdout: string })
    // Name the document and line of the snippet instead of the generated file.
    const errors = String(result.stdout ?? '').replace(/^(\S+\.ts)\((\d+),(\d+)\)/gm, (_all, file: string, line: string) => {
      return `${files[file] ?? file} (snippet line ${line})`
    })
    expect(errors).toBe('')
  }, 120_000)
})
