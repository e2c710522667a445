#!/usr/bin/env node
// Render an nginx config template of this folder for three nodes.
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
  if (nodes.length !== 3 || routes.length !== 3) throw new Error('the templates take exactly three nodes and three routes')
  for (const r of routes) {
    // Routes become part of a regex and of upstream names: keep them to the route alphabet.
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(r)) throw new Error(`bad route "${r}"`)
  }
  const values = { LISTEN: listen }
  for (const [i, n] of nodes.entries()) values[`NODE${i + 1}`] = n
  for (const [i, r] of routes.entries()) values[`ROUTE${i + 1}`] = r
  const template = readFileSync(new URL(`./${mode}.conf.template`, import.meta.url), 'utf8')
  const out = template.replace(/\{\{([A-Z0-9]+)\}\}/g, (_, name) => {
    if (!(name in values)) throw new Error(`no value for {{${name}}}`)
    return values[name]
  })
  return out.replace(/^# Template: .*\n(# {3}node .*\n)?/m, '# Rendered from the template by render.js (edit the template, not this file).\n')
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
