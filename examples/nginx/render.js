#!/usr/bin/env node
// Render an nginx config template of this folder (written for three nodes; any number from 2 is rendered by
// repeating its per-node lines and per-route upstreams).
//   node examples/nginx/render.js <round-robin|sticky> [--listen 127.0.0.1:8080]
//        [--nodes 127.0.0.1:3001,127.0.0.1:3002,127.0.0.1:3003] [--routes node1,node2,node3]
// The rendered defaults (round-robin.conf, sticky.conf) are this script's output without options.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const NGINX_MODES = ['round-robin', 'sticky']
export const DEFAULT_NGINX_VALUES = {
  listen: '127.0.0.1:8080',
  nodes: ['127.0.0.1:3001', '127.0.0.1:3002', '127.0.0.1:3003'],
  routes: ['node1', 'node2', 'node3'],
}

/** The template of `mode` with its placeholders replaced; throws on a missing value or a bad route. */
export function renderNginxConfig(mode, { listen, nodes, routes } = {}) {
  if (!NGINX_MODES.includes(mode)) throw new Error(`mode must be one of ${NGINX_MODES.join(', ')}, got "${mode}"`)
  listen ??= DEFAULT_NGINX_VALUES.listen
  nodes ??= DEFAULT_NGINX_VALUES.nodes
  routes ??= DEFAULT_NGINX_VALUES.routes
  if (nodes.length < 2 || routes.length !== nodes.length) throw new Error('the templates take two nodes or more, and one route per node')
  for (const r of routes) {
    // Routes become part of a regex and of upstream names: keep them to the route alphabet.
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(r)) throw new Error(`bad route "${r}"`)
  }
  const values = { LISTEN: listen }
  for (const [i, n] of nodes.entries()) values[`NODE${i + 1}`] = n
  for (const [i, r] of routes.entries()) values[`ROUTE${i + 1}`] = r
  const template = forNodes(readFileSync(new URL(`./${mode}.conf.template`, import.meta.url), 'utf8'), nodes.length)
  // Every node once: with more nodes than the template's three, a request must be able to reach the last of them.
  values.TRIES = String(nodes.length)
  const out = template.replace(/\{\{([A-Z0-9]+)\}\}/g, (_, name) => {
    if (!(name in values)) throw new Error(`no value for {{${name}}}`)
    return values[name]
  })
  return out.replace(/^# Template: .*\n(# {3}node .*\n)?/m, '# Rendered from the template by render.js (edit the template, not this file).\n')
}

/**
 * The three-node template for `n` nodes: a line naming node or route 1 alone is repeated for every node (the map's
 * entries, the round-robin servers), the lines naming 2 or 3 alone are dropped, and the owner-first upstream of route
 * 1 is repeated for every route, its backup line for every other node in turn. Comments naming nodes are dropped.
 */
function forNodes(template, n) {
  if (n === 3) return template
  const lines = template.split('\n')
  const out = []
  const indexes = (line) => new Set([...line.matchAll(/\{\{(?:ROUTE|NODE)(\d+)\}\}/g)].map((m) => Number(m[1])))
  const renumber = (line, from, to) => line.replace(new RegExp(`\\{\\{(ROUTE|NODE)${from}\\}\\}`, 'g'), `{{$1${to}}}`)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const upstream = /^\s*upstream route_\{\{ROUTE(\d+)\}\} \{$/.exec(line)
    if (upstream) {
      const block = []
      while (lines[i].trim() !== '}') block.push(lines[i++])
      block.push(lines[i])
      if (upstream[1] !== '1') continue
      for (let k = 1; k <= n; k++) {
        for (const b of block) {
          if (/\{\{NODE2\}\}/.test(b)) for (let o = 1; o < n; o++) out.push(renumber(b, 2, ((k - 1 + o) % n) + 1))
          else if (!/\{\{NODE3\}\}/.test(b)) out.push(renumber(renumber(b, 1, k), 1, k))
        }
      }
      continue
    }
    const found = indexes(line)
    if (line.startsWith('# Template:')) out.push(line.replace(/\{\{(?:ROUTE|NODE)\d+\}\} ?/g, ''))
    else if (found.size === 0) out.push(line)
    else if (line.trimStart().startsWith('#')) continue
    else if (found.size === 1 && found.has(1)) for (let k = 1; k <= n; k++) out.push(renumber(line, 1, k))
  }
  return out.join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, ...rest] = process.argv.slice(2)
  const options = {}
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]]
    if (flag === '--listen') options.listen = value
    else if (flag === '--nodes') options.nodes = value.split(',')
    else if (flag === '--routes') options.routes = value.split(',')
    else {
      console.error(`unknown option ${flag}`)
      process.exit(2)
    }
  }
  try {
    process.stdout.write(renderNginxConfig(mode, options))
  } catch (err) {
    console.error(err.message)
    process.exit(2)
  }
}
