#!/bin/sh
# Runs express-session's and @fastify/session's own test suites with ClusterStore in place of their
# MemoryStore, on one node and on three (writes on one node, reads on another), with the frameworks' own
# session ids. Not part of `pnpm test`: it needs checkouts of both projects with their dev dependencies.
#
#   git clone <expressjs/session> /tmp/upstream/express-session && (cd /tmp/upstream/express-session && npm install)
#   git clone <fastify/session> /tmp/upstream/fastify-session && (cd /tmp/upstream/fastify-session && npm install)
#   pnpm build && test/upstream/run.sh /tmp/upstream/express-session /tmp/upstream/fastify-session
#
# STORE=deferred-memory runs the frameworks' own stores with every callback one turn of the event loop later:
# the control that tells a test relying on synchronous callbacks from a difference of ClusterStore's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
express=${1:?express-session checkout}
fastify=${2:?@fastify/session checkout}

(cd "$express" && ./test/support/gencert.sh >/dev/null 2>&1 || true)
for nodes in 1 3; do
  echo "express-session, ClusterStore on $nodes node(s):"
  (cd "$express" && FRAMEWORK=express CLUSTER_NODES=$nodes npx mocha --require test/support/env \
    --require "$here/cluster-memory-store.cjs" --check-leaks --exit --reporter dot test/ 2>&1 | grep -E 'passing|failing|pending' || true)
  echo "@fastify/session, ClusterStore on $nodes node(s):"
  (cd "$fastify" && FRAMEWORK=fastify CLUSTER_NODES=$nodes node -r "$here/cluster-memory-store.cjs" --test --test-force-exit 2>&1 |
    grep -E '^# (tests|pass|fail) |^not ok' || true)
done
