'use strict'
// Preloaded with `node -r` by run.sh: the store the upstream suite runs on (express-session's MemoryStore,
// @fastify/session's test store: see REPLACED) becomes a ClusterStore over an in-memory cluster of
// CLUSTER_NODES nodes. With 3 nodes, writes (set, destroy, touch, clear) go to node 0 and reads (get, all,
// length) to node 1. No ids are forced: the frameworks generate their own.
const Module = require('node:module')
const path = require('node:path')
// The repository whose built packages are tested (`pnpm build` first).
const WT = process.env.WT || path.resolve(__dirname, '../..')
const FRAMEWORK = process.env.FRAMEWORK // 'express' | 'fastify'
const NODES = Number(process.env.CLUSTER_NODES || 1)
// The memory transport is in the test kit (`@session-cluster/core/testing`, ESM only: Node >= 20.19 requires it);
// the cluster comes from the same ESM build, so both share one copy of the core.
const core = {
  ...require(path.join(WT, 'packages/core/dist/index.js')),
  ...require(path.join(WT, 'packages/core/dist/testing.js')),
}
const { ClusterStore } = require(path.join(WT, `packages/${FRAMEWORK}/dist/index.cjs`))

const FAST = {
  heartbeatIntervalMs: 100,
  suspectTimeoutMs: 600,
  verifyTimeoutMs: 300,
  ackTimeoutMs: 1000,
  stateTransferTimeoutMs: 5000,
  accessFlushIntervalMs: 100,
  expiryIntervalMs: 100,
  logger: core.silentLogger,
}
let nextPort = 20000
const READS = new Set(['get', 'all', 'length'])
const METHODS = ['get', 'set', 'destroy', 'touch', 'all', 'length', 'clear']

function ClusterMemoryStore() {
  const network = new core.MemoryNetwork()
  const ports = Array.from({ length: NODES }, () => nextPort++)
  const members = ports.map((p) => `127.0.0.1:${p}`)
  const clusters = ports.map((port, i) =>
    core.createSessionCluster({ ...FAST, route: `node${i}`, members, transport: core.memoryTransport({ network, port }) }),
  )
  let ready = false
  const started = Promise.all(clusters.map((c) => c.start())).then(() => {
    ready = true
  })
  // The cluster's timers are unref'd, and inject()-driven tests hold no handle: keep the loop alive (the
  // runners are told to exit when the tests are done: mocha --exit, node --test-force-exit).
  setInterval(() => {}, 60_000)
  const writer = new ClusterStore(clusters[0])
  const reader = NODES > 1 ? new ClusterStore(clusters[1]) : writer
  for (const name of METHODS) {
    const target = READS.has(name) ? reader : writer
    const method = target[name].bind(target)
    writer[name] = function waitForStart(...args) {
      if (ready) return method(...args)
      const callback = typeof args[args.length - 1] === 'function' ? args[args.length - 1] : undefined
      return started.then(() => method(...args), (error) => (callback ? callback(error) : Promise.reject(error)))
    }
  }
  return writer
}
ClusterMemoryStore.Store = ClusterMemoryStore
ClusterMemoryStore.MemoryStore = ClusterMemoryStore
ClusterMemoryStore.default = ClusterMemoryStore

// express-session: its MemoryStore, wherever it is created (the suite only drives it through the Store API).
// @fastify/session: the store its tests' buildFastify() registers (a TestStore) and the plugin's default store.
// Tests that build a MemoryStore or TestStore over a Map of their own to look inside it keep the real one.
// Paths are relative to the checkout the suite runs in (the working directory).
const REPLACED =
  FRAMEWORK === 'express'
    ? [{ module: 'session/memory.js', by: undefined }]
    : [
        { module: 'test/TestStore.js', by: 'test/util.js' },
        { module: 'lib/store.js', by: 'index.js' },
      ]
const inCheckout = (file) => path.relative(process.cwd(), file).split(path.sep).join('/')
const isReplaced = (resolved, parent) =>
  REPLACED.some((r) => inCheckout(resolved) === r.module && (r.by === undefined || inCheckout(parent) === r.by))

/**
 * The control: the framework's own store, calling back one turn of the event loop later (as any store over
 * a network does). A test that fails with it relies on a store that calls back synchronously.
 */
function deferredCallbacks(Store) {
  const Deferred = class extends Store {}
  for (const name of METHODS) {
    if (typeof Store.prototype[name] !== 'function') continue
    Deferred.prototype[name] = function deferred(...args) {
      const i = args.length - 1
      if (typeof args[i] === 'function') {
        const callback = args[i]
        args[i] = (...results) => setImmediate(() => callback(...results))
      }
      return Store.prototype[name].apply(this, args)
    }
  }
  return Object.assign(Deferred, { Store: Deferred, MemoryStore: Deferred, default: Deferred })
}

const load = Module._load
Module._load = function loadReplacingMemoryStore(...args) {
  const [request, parent, isMain] = args
  if (parent?.filename && /store|memory|TestStore/i.test(request)) {
    let resolved
    try {
      resolved = Module._resolveFilename(request, parent, isMain)
    } catch {}
    if (resolved && isReplaced(resolved, parent.filename)) {
      return process.env.STORE === 'deferred-memory' ? deferredCallbacks(load.apply(this, args)) : ClusterMemoryStore
    }
  }
  return load.apply(this, args)
}
