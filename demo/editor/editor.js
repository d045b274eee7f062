// The demo editor: CodeMirror 6 with Yjs's binding (y-codemirror.next), joined to a document on
// the cairnd that serves the page through the standard y-websocket provider. Who is here comes
// from Yjs awareness; comments live inside the document in the layout docs/collaboration.md
// describes, so a Cairn device sees the same ones. Bundled by scripts/build-demo.sh.
//
// /demo/editor[?doc=NAME][&dataset=ID][&name=WHO]: a guest session is made once per browser
// (kept in localStorage), and the document is NAME (default "notes/demo": entry "demo" of a
// device's document store "notes") in that guest's own dataset, or in dataset ID when the guest
// is a member of it.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { yCollab } from 'y-codemirror.next'
import { EditorView, basicSetup } from 'codemirror'
import { EditorState } from '@codemirror/state'

const params = new URLSearchParams(location.search)
const $ = (selector) => document.querySelector(selector)

async function session () {
  const kept = JSON.parse(localStorage.getItem('cairn-demo-session') || 'null')
  if (kept && kept.expiresAt > Date.now()) return kept
  const response = await fetch('/api/auth/guest', { method: 'POST' })
  if (!response.ok) throw new Error(`no guest session: ${response.status}`)
  const made = await response.json()
  localStorage.setItem('cairn-demo-session', JSON.stringify(made))
  return made
}

const palette = ['#30bced', '#6eeb83', '#ffbc42', '#ee6352', '#9ac2c9', '#8acb88', '#1be7ff']
const me = await session()
const dataset = params.get('dataset') || me.datasetId
const name = params.get('doc') || 'notes/demo'
const ydoc = new Y.Doc()
const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
const provider = new WebsocketProvider(`${scheme}://${location.host}/api/collab`, `${dataset}/${name}`, ydoc, { params: { token: me.token } })
const ytext = ydoc.getText('content')
const color = palette[ydoc.clientID % palette.length]
provider.awareness.setLocalStateField('user', { name: params.get('name') || `guest ${ydoc.clientID % 1000}`, color, colorLight: color + '33' })
$('#document').textContent = name

// How a device joins from the command line: the document is entry KEY of a document store STORE
// when its name is STORE/KEY (docs/collaboration.md, "Documents in libcairn").
const slash = name.indexOf('/')
if (slash > 0) {
  const [store, key] = [name.slice(0, slash), name.slice(slash + 1)]
  $('#device').textContent = [
    `cairn ydoc edit app.db ${store} ${key} --create --insert ' hello from a device'`,
    `cairn sync app.db --server ${location.origin} --dataset ${dataset} --token ${me.token}`,
    `cairn ydoc extract app.db ${store} ${key} | cairn ydoc show -`
  ].join('\n')
} else {
  $('#device').closest('section').hidden = true
}
provider.on('status', (event) => { $('#status').textContent = event.status })
provider.on('connection-close', (event) => {
  if (event && event.code >= 4400 && event.code < 4500) $('#status').textContent = `refused: ${event.reason}`
})

const view = new EditorView({
  state: EditorState.create({ doc: ytext.toString(), extensions: [basicSetup, EditorView.lineWrapping, yCollab(ytext, provider.awareness)] }),
  parent: $('#editor')
})

function renderPeers () {
  const list = $('#peers')
  list.replaceChildren()
  for (const [client, state] of provider.awareness.getStates()) {
    if (!state.user) continue
    const item = document.createElement('li')
    const dot = document.createElement('span')
    dot.className = 'dot'
    dot.style.background = state.user.color || '#999'
    item.append(dot, `${state.user.name}${client === ydoc.clientID ? ' (you)' : ''}`)
    list.append(item)
  }
}
provider.awareness.on('change', renderPeers)
renderPeers()

// Comments: a root map "comments", each an anchored range (relative positions) with its text.
const comments = ydoc.getMap('comments')
const resolve = (bytes) => {
  const at = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(bytes), ydoc)
  return at && at.type === ytext ? at.index : null
}
function renderComments () {
  const box = $('#comments')
  box.replaceChildren()
  const all = []
  comments.forEach((comment, id) => {
    const start = resolve(comment.get('start'))
    const end = resolve(comment.get('end'))
    const detached = start === null || end === null || start >= end
    all.push({ id, comment, start, end, detached })
  })
  all.sort((a, b) => (a.detached - b.detached) || (a.start - b.start))
  for (const { comment, start, end, detached } of all) {
    const card = document.createElement('div')
    card.className = 'comment' + (detached ? ' detached' : '')
    const quote = document.createElement('q')
    quote.textContent = detached ? '(its text was deleted)' : ytext.toString().slice(start, end)
    const body = document.createElement('div')
    body.textContent = comment.get('body')
    const who = document.createElement('small')
    who.textContent = comment.get('author')
    card.append(quote, body, who)
    box.append(card)
  }
}
comments.observeDeep(renderComments)
ytext.observe(renderComments)

function addComment (from, to, body) {
  const comment = new Y.Map()
  ydoc.transact(() => {
    comments.set(`${ydoc.clientID}-${Date.now()}`, comment)
    comment.set('text', 'content')
    comment.set('start', Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(ytext, from, 0)))
    comment.set('end', Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(ytext, to, -1)))
    comment.set('body', body)
    comment.set('author', provider.awareness.getLocalState().user.name)
    comment.set('createdAt', Date.now())
    comment.set('resolved', false)
  })
}
$('#comment').addEventListener('click', () => {
  const { from, to } = view.state.selection.main
  if (from === to) return
  const body = prompt('Comment')
  if (body) addComment(from, to, body)
})

// For tests and the curious: window.cairnDemo.
window.cairnDemo = { ydoc, ytext, provider, view, addComment, session: me, synced: () => provider.synced }
