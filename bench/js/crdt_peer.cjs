// Yjs (npm, the version tests/js/package.json pins) on the same work as bench/crdt_bench.cpp, so
// that the two are measured in one run on one machine. Run by crdt_bench with NODE_PATH set and
// --expose-gc; prints one JSON object.
//   node --expose-gc crdt_peer.cjs trace FILE.json.gz -> replay, encode, apply, memory
//   node crdt_peer.cjs scenarios FILE.json           -> the crdt-benchmarks scenarios crdt_bench
//                                                      wrote: per scenario, ms, bytes, hash
'use strict'
const Y = require('yjs')
const fs = require('fs')

const now = () => Number(process.hrtime.bigint()) / 1e6
const heap = () => { global.gc(); global.gc(); return process.memoryUsage().heapUsed }
// FNV-1a (32 bits) of bytes, to compare updates with Cairn's without printing them.
const fnv1a = bytes => { let h = 0x811c9dc5; for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0; return h }

function trace (file) {
  const data = JSON.parse(require('zlib').gunzipSync(fs.readFileSync(file)).toString('utf8'))
  let start = now()
  let doc = new Y.Doc()
  doc.clientID = 1
  let text = doc.getText('text')
  for (const txn of data.txns) {
    doc.transact(() => {
      for (const [pos, del, ins] of txn.patches) {
        if (del > 0) text.delete(pos, del)
        if (ins.length > 0) text.insert(pos, ins)
      }
    })
  }
  const replayMs = now() - start
  if (text.toString() !== data.endContent) throw new Error('the replay does not end at endContent')
  start = now()
  const update = Y.encodeStateAsUpdate(doc)
  const encodeMs = now() - start
  // The memory the document holds: the heap with it, less the heap once it is gone.
  const withDoc = heap()
  doc = text = null
  const memory = withDoc - heap()
  start = now()
  const fresh = new Y.Doc()
  Y.applyUpdate(fresh, update)
  const applyMs = now() - start
  if (fresh.getText('text').toString() !== data.endContent) throw new Error('the update loads wrong')
  return { replayMs, encodeMs, applyMs, updateBytes: update.length, updateHash: fnv1a(update), memoryBytes: memory }
}

// Each peer makes its operations (each its own transaction); then two peers exchange their
// states, or the first is given every other's update — as crdt_bench does it.
function scenarios (file) {
  return JSON.parse(fs.readFileSync(file, 'utf8')).map(scenario => {
    const start = now()
    const docs = scenario.peers.map((ops, p) => {
      const doc = new Y.Doc()
      doc.clientID = p + 1
      const text = doc.getText('text')
      const array = doc.getArray('array')
      const map = doc.getMap('map')
      for (const [kind, index, length, str, number] of ops) {
        if (kind === 'insert') text.insert(index, str)
        else if (kind === 'delete') text.delete(index, length)
        else if (kind === 'push') array.insert(index, [number])
        else if (kind === 'set') map.set(str, number)
      }
      return doc
    })
    if (scenario.applyAllToFirst) {
      for (let p = 1; p < docs.length; p++) Y.applyUpdate(docs[0], Y.encodeStateAsUpdate(docs[p]))
    } else if (docs.length === 2) {
      const a = Y.encodeStateAsUpdate(docs[0])
      const b = Y.encodeStateAsUpdate(docs[1])
      Y.applyUpdate(docs[0], b)
      Y.applyUpdate(docs[1], a)
    }
    const ms = now() - start
    const state = Y.encodeStateAsUpdate(docs[0])
    return { ms, bytes: state.length, hash: fnv1a(state) }
  })
}

const [mode, arg] = process.argv.slice(2)
const out = mode === 'trace' ? trace(arg) : scenarios(arg)
process.stdout.write(JSON.stringify(out) + '\n')
