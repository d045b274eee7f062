// A browser editor's side of a collaborative document, under Node: the unmodified y-websocket
// provider (with the ws package as its WebSocket) on cairnd's /api/collab, making seeded random
// text edits. Driven over stdin by tests/server/collab_interop_test.cpp:
//
//   node collab_peer.cjs URL ROOM TOKEN SEED EDITS
//
// prints {"synced":true} once the provider has synced, {"edited":N} once its N edits are made
// (each a transaction, a few milliseconds apart, some while others edit), and answers each line
// "report" on stdin with {"text":…,"peers":[awareness names…]}; "quit" ends it.
'use strict'
const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')
const WebSocket = require('ws')
const readline = require('readline')

const [url, room, token, seedText, editsText] = process.argv.slice(2)
let seed = Number(seedText) >>> 0
const random = () => { // mulberry32, as the other peers' seeded generators
  seed = (seed + 0x6D2B79F5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const doc = new Y.Doc()
const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket, params: { token } })
provider.awareness.setLocalStateField('user', { name: `node-${seedText}` })
const text = doc.getText('t')
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n')

let started = false
provider.on('sync', (synced) => {
  if (!synced || started) return
  started = true
  say({ synced: true })
  let left = Number(editsText)
  const edit = () => {
    if (left === 0) { say({ edited: Number(editsText) }); return }
    left -= 1
    const length = text.length
    if (length > 0 && random() < 0.3) {
      const at = Math.floor(random() * length)
      text.delete(at, Math.min(length - at, 1 + Math.floor(random() * 3)))
    } else {
      const at = Math.floor(random() * (length + 1))
      text.insert(at, String.fromCharCode(97 + Math.floor(random() * 26)).repeat(1 + Math.floor(random() * 3)))
    }
    setTimeout(edit, Math.floor(random() * 4))
  }
  edit()
})

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'report') {
    const peers = [...provider.awareness.getStates().values()].map((s) => s.user && s.user.name).filter(Boolean).sort()
    say({ text: text.toString(), peers })
  } else if (line === 'quit') {
    provider.destroy()
    process.exit(0)
  }
})
