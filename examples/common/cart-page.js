// The cart page of the examples, shared by the Express and Fastify apps: the JSP page of Tomcat's
// clustering tutorials (node, session id, new or not, created, last access, the items, an add form).

/** Every session attribute but express-session's / @fastify/session's own `cookie`. */
export function sessionAttributes(session) {
  const attrs = {}
  for (const [key, value] of Object.entries(session ?? {})) {
    if (key !== 'cookie' && typeof value !== 'function') attrs[key] = value
  }
  return attrs
}

// Names an attribute may not take: the session objects' own members (express-session and @fastify/session)
// and anything that could reach a prototype.
const RESERVED = new Set([
  '__proto__', 'constructor', 'prototype', 'cookie', 'id', 'req', 'sessionId', 'encryptedSessionId',
  'get', 'set', 'save', 'touch', 'reload', 'regenerate', 'destroy', 'resetMaxAge', 'options', 'isModified', 'isSaved',
])

/** A key `/attr` accepts: short, plain, and not one of the session object's own members. */
export function isValidAttributeKey(key) {
  return typeof key === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(key) && !RESERVED.has(key)
}

/** The session's item list, created on first use; pushes happen in place (replicated as a change). */
export function cartItems(session) {
  if (!Array.isArray(session.items)) session.items = []
  return session.items
}

/**
 * @param {{ node: string, sessionId: string, isNew: boolean, createdAt?: number,
 *           lastAccessedAt?: number, items: string[],
 *           members?: Array<{ route: string, state: string }> }} view
 *   `members`: the other nodes as this node sees them (its `/cluster/status`), shown under the title.
 */
export function renderCartPage(view) {
  const time = (ms) => (ms === undefined ? '-' : new Date(ms).toISOString())
  const items = view.items.map((item) => `      <li>${escapeHtml(item)}</li>`).join('\n')
  const members = view.members ?? []
  const live = 1 + members.filter((m) => m.state === 'alive').length
  const peers = members.map((m) => `<span class="member ${escapeHtml(m.state)}" data-route="${escapeHtml(m.route)}">${escapeHtml(m.route)} (${escapeHtml(m.state)})</span>`)
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Cart on ${escapeHtml(view.node)}</title>
  <link rel="stylesheet" href="/static/style.css">
</head>
<body>
  <header><img src="/static/logo.svg" alt="" width="32" height="32"> <h1>Served by <span id="node">${escapeHtml(view.node)}</span></h1></header>
  <p id="cluster" data-live="${live}">Cluster: <strong>${live}</strong> live node${live === 1 ? '' : 's'}, this one and ${peers.length > 0 ? peers.join(', ') : 'no other member'}</p>
  <dl>
    <dt>Session id</dt><dd id="session-id">${escapeHtml(view.sessionId)}</dd>
    <dt>New session</dt><dd id="is-new">${view.isNew}</dd>
    <dt>Created</dt><dd id="created">${time(view.createdAt)}</dd>
    <dt>Last access</dt><dd id="last-access">${time(view.lastAccessedAt)}</dd>
  </dl>
  <h2>Items (<span id="count">${view.items.length}</span>)</h2>
  <ul id="items">
${items}
  </ul>
  <form method="post" action="/">
    <label>Name <input type="text" name="add" required autofocus></label>
    <button type="submit">Add to cart</button>
  </form>
  <p><a href="/">Reload</a> · <a href="/cart">JSON</a> · <a href="/cluster/status">cluster status</a></p>
</body>
</html>
`
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
