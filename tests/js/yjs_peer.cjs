// A real Yjs (the npm package, version pinned in package.json) for Cairn's interop tests
// (tests/crdt/interop_test.cpp). Run with NODE_PATH pointing at the installed node_modules.
//   node yjs_peer.cjs session SEED  -> several Yjs peers edit concurrently and exchange updates;
//                                      prints every update (in formats v1 and v2), an order to apply them in (shuffled,
//                                      with repeats), what a fresh doc holds after that order, and
//                                      its diffs against state vectors the peers had on the way
//   node yjs_peer.cjs local SEED    -> one peer's edits as a list of operations, and its state
//   node yjs_peer.cjs formatting SEED -> a formatted Text edited at random: operations, updates
//   node yjs_peer.cjs rich          -> an XML document and a formatted Text: state, toString, toDelta
//   node yjs_peer.cjs positions     -> relative positions Yjs encoded, and where they are after edits
//   node yjs_peer.cjs snapshots     -> snapshots Yjs encoded, and the content it restores from each
//   node yjs_peer.cjs events        -> a peer's transactions, and what observers reported for each
//   node yjs_peer.cjs undo          -> local edits, another peer's, undos and redos; state after each
//   node yjs_peer.cjs driver        -> Yjs peers driven line by line (mixed sessions; see driver())
//   node yjs_peer.cjs load FILE     -> applies the update in FILE to a fresh doc; prints its content
// Output: one JSON object on stdout; binary as base64.
'use strict'
const Y = require('yjs')
const fs = require('fs')

// mulberry32: a small seeded generator, so that a seed names one session.
function generator (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const b64 = bytes => Buffer.from(bytes).toString('base64')
const content = doc => ({
  text: doc.getText('text').toString(),
  array: doc.getArray('array').toJSON(),
  map: doc.getMap('map').toJSON()
})

function makeOps (random) {
  const int = n => Math.floor(random() * n)
  const pick = list => list[int(list.length)]
  const chars = ['a', 'b', 'c', ' ', 'é', '中', '😀', '\n', 'Z']
  const word = () => { let s = ''; for (let i = 1 + int(5); i > 0; i--) s += pick(chars); return s }
  const value = () => pick([
    () => int(1000) - 500, () => 0.5, () => 1.1, () => 1e300, () => -0.25, () => word(), () => true,
    () => false, () => null, () => ({ a: int(9), 2: 'two', z: [1, 'x', null], 1: { b: word() } }),
    () => [int(5), word(), [true]], () => new Uint8Array([int(256), 7, 0]), () => 2 ** 31, () => -(2 ** 31) + 1
  ])()
  // An operation on `doc`, described so that another implementation can replay it.
  return doc => {
    const text = doc.getText('text')
    const array = doc.getArray('array')
    const map = doc.getMap('map')
    const kind = int(7)
    if (kind <= 1 || (kind === 2 && text.length === 0)) {
      const op = { op: 'text-insert', index: int(text.length + 1), text: word() }
      text.insert(op.index, op.text)
      return op
    }
    if (kind === 2) {
      const index = int(text.length)
      const op = { op: 'text-delete', index, length: 1 + int(Math.min(4, text.length - index)) }
      text.delete(op.index, op.length)
      return op
    }
    if (kind === 3 || (kind === 4 && array.length === 0)) {
      const values = []
      for (let i = 1 + int(3); i > 0; i--) values.push(value())
      const op = { op: 'array-insert', index: int(array.length + 1), values }
      array.insert(op.index, values)
      return op
    }
    if (kind === 4) {
      const index = int(array.length)
      const op = { op: 'array-delete', index, length: 1 + int(Math.min(3, array.length - index)) }
      array.delete(op.index, op.length)
      return op
    }
    const key = pick(['k0', 'k1', 'k2', '7', 'long key'])
    if (kind === 5 && map.has(key)) {
      map.delete(key)
      return { op: 'map-delete', key }
    }
    const op = { op: 'map-set', key, value: value() }
    map.set(key, op.value)
    return op
  }
}

// Binary values travel as {"$binary": base64} in the printed operations.
const printable = op => JSON.parse(JSON.stringify(op, (key, v) => v instanceof Uint8Array ? { $binary: b64(v) } : v))

function session (seed) {
  const random = generator(seed)
  const int = n => Math.floor(random() * n)
  const edit = makeOps(random)
  const peers = [1, 2, 3].map(i => { const d = new Y.Doc(); d.clientID = 1000 * i + int(1000); return d })
  const updates = []
  const updatesV2 = []  // the same transactions in update format v2
  peers.forEach(doc => doc.on('update', update => { updates.push(update) }))
  peers.forEach(doc => doc.on('updateV2', update => { updatesV2.push(update) }))
  const vectors = []  // peers' state vectors along the way, to diff against
  for (let step = 0; step < 60; step++) {
    const peer = peers[int(peers.length)]
    for (let i = 1 + int(3); i > 0; i--) edit(peer)
    if (int(8) === 0) vectors.push(Y.encodeStateVector(peers[int(peers.length)]))
    if (int(4) === 0) {  // two peers exchange what the other lacks, as y-protocols' sync does
      const a = peers[int(peers.length)]
      const b = peers[int(peers.length)]
      Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
    }
  }
  // Every update once, shuffled, and a fifth of them again.
  const order = updates.map((_, i) => i)
  for (let i = order.length - 1; i > 0; i--) { const j = int(i + 1); [order[i], order[j]] = [order[j], order[i]] }
  for (let i = Math.floor(updates.length / 5); i > 0; i--) order.splice(int(order.length + 1), 0, int(updates.length))
  const merged = Y.mergeUpdates(updates)
  const mergedV2 = Y.mergeUpdatesV2(updatesV2)
  const fresh = new Y.Doc()
  fresh.clientID = 1
  // Whether structs wait for others at two points on the way.
  const checkpoints = [Math.floor(order.length / 3), Math.floor(2 * order.length / 3)]
  const partial = []
  order.forEach((i, n) => {
    if (checkpoints.includes(n)) {
      partial.push({ applied: n, pending: fresh.store.pendingStructs !== null || fresh.store.pendingDs !== null })
    }
    Y.applyUpdate(fresh, updates[i])
  })
  return {
    seed,
    updates: updates.map(b64),
    updatesV2: updatesV2.map(b64),
    convertedToV1: updatesV2.map(update => b64(Y.convertUpdateFormatV2ToV1(update))),
    convertedToV2: updates.map(update => b64(Y.convertUpdateFormatV1ToV2(update))),
    updateVectors: updates.map(update => b64(Y.encodeStateVectorFromUpdate(update))),
    order,
    ...content(fresh),
    state: b64(Y.encodeStateAsUpdate(fresh)),
    stateV2: b64(Y.encodeStateAsUpdateV2(fresh)),
    partial,
    stateVector: b64(Y.encodeStateVector(fresh)),
    diffs: vectors.map(vector => ({
      vector: b64(vector),
      update: b64(Y.encodeStateAsUpdate(fresh, vector)),
      mergedDiff: b64(Y.diffUpdate(merged, vector)),
      updateV2: b64(Y.encodeStateAsUpdateV2(fresh, vector)),
      mergedDiffV2: b64(Y.diffUpdateV2(mergedV2, vector))
    })),
    merged: b64(merged),
    mergedV2: b64(mergedV2),
    mergedInOrder: b64(Y.mergeUpdates(order.map(i => updates[i])))
  }
}

function local (seed) {
  const random = generator(seed)
  const edit = makeOps(random)
  const doc = new Y.Doc()
  doc.clientID = 4242
  const ops = []
  const updates = []  // the update event of each operation's transaction
  doc.on('update', update => updates.push(b64(update)))
  for (let i = 0; i < 80; i++) ops.push(printable(edit(doc)))
  return { seed, client: doc.clientID, ops, updates, ...content(doc), state: b64(Y.encodeStateAsUpdate(doc)) }
}

// A formatted Text edited by one peer at random: inserts with and without attributes, embeds,
// formatting (values that are objects too, and null to end one) and deletes; every operation,
// its update, and the result.
function formatting (seed) {
  const random = generator(seed)
  const int = n => Math.floor(random() * n)
  const pick = list => list[int(list.length)]
  const doc = new Y.Doc()
  doc.clientID = 99
  const text = doc.getText('text')
  const updates = []
  doc.on('update', update => updates.push(b64(update)))
  const attributes = () => {
    const out = {}
    for (let i = 1 + int(2); i > 0; i--) {
      const key = pick(['bold', 'italic', 'color', 'link'])
      out[key] = key === 'color' ? pick(['red', '#00f', null]) : key === 'link' ? pick([{ href: 'https://a.example' }, null]) : pick([true, null])
    }
    return out
  }
  const ops = []
  for (let i = 0; i < 120; i++) {
    const kind = int(10)
    let op
    if (kind < 3 || text.length === 0) {
      op = { op: 'insert', index: int(text.length + 1), text: pick(['a', 'bc', 'hello ', '\n', 'é😀']) }
      if (int(2) === 0) op.attributes = attributes()
      text.insert(op.index, op.text, op.attributes)
    } else if (kind === 3) {
      op = { op: 'embed', index: int(text.length + 1), embed: { image: 'i' + int(9) } }
      if (int(2) === 0) op.attributes = attributes()
      text.insertEmbed(op.index, op.embed, op.attributes)
    } else if (kind < 7) {
      const index = int(text.length)
      op = { op: 'format', index, length: 1 + int(Math.min(8, text.length - index + 2)), attributes: attributes() }
      text.format(op.index, op.length, op.attributes)
    } else {
      const index = int(text.length)
      op = { op: 'delete', index, length: 1 + int(Math.min(5, text.length - index - 1)) }
      text.delete(op.index, op.length)
    }
    op.updates = updates.splice(0)  // what the operation emitted: none when it changed nothing
    ops.push(op)
  }
  return { ops, delta: text.toDelta(), state: b64(Y.encodeStateAsUpdate(doc)) }
}

// A ProseMirror-like XML document and a formatted Text, edited in ways that split formats.
function rich () {
  const doc = new Y.Doc()
  doc.clientID = 77
  const fragment = doc.getXmlFragment('prosemirror')
  const heading = new Y.XmlElement('Heading')
  heading.setAttribute('level', 2)
  heading.insert(0, [new Y.XmlText('Title')])
  const paragraph = new Y.XmlElement('paragraph')
  paragraph.setAttribute('align', 'left')
  paragraph.setAttribute('data-n', 3)
  const text = new Y.XmlText()
  paragraph.insert(0, [text])
  fragment.insert(0, [heading, paragraph])
  text.insert(0, 'Hello bold world')
  text.format(6, 4, { bold: true })
  text.format(0, 5, { link: { href: 'https://example.com', title: 'x' } })
  text.insert(text.length, '!', { italic: {} })
  text.delete(2, 2)
  const richText = doc.getText('rich')
  richText.insert(0, 'abcdef')
  richText.format(1, 3, { bold: true, color: '#f00' })
  richText.format(2, 3, { bold: null })
  richText.insertEmbed(4, { image: 'x.png' })
  richText.insert(0, 'Z', { header: 1 })
  richText.delete(3, 1)
  return {
    state: b64(Y.encodeStateAsUpdate(doc)),
    xml: fragment.toString(),
    delta: richText.toDelta(),
    text: richText.toString()
  }
}

// Relative positions in a Text, a nested Text and an Array, encoded by Yjs; where Yjs resolves
// them after another peer's edits.
function positions () {
  const doc = new Y.Doc({ gc: false })
  doc.clientID = 5
  const text = doc.getText('text')
  text.insert(0, 'world')
  text.insert(0, 'hello ')
  text.insert(11, '!')
  text.delete(2, 1)
  const note = new Y.Text()
  doc.getMap('meta').set('note', note)
  note.insert(0, 'abc')
  doc.getArray('list').insert(0, [1, 2, 3])
  const places = []
  const add = (where, type) => {
    for (let index = 0; index <= type.length; index++) {
      for (const assoc of [0, -1]) {
        const rpos = Y.createRelativePositionFromTypeIndex(type, index, assoc)
        places.push({ where, index, assoc, encoded: b64(Y.encodeRelativePosition(rpos)), rpos })
      }
    }
  }
  add('text', text)
  add('note', note)
  add('list', doc.getArray('list'))
  const state = Y.encodeStateAsUpdate(doc)
  const other = new Y.Doc({ gc: false })
  other.clientID = 9
  Y.applyUpdate(other, state)
  const before = Y.encodeStateVector(other)
  other.getText('text').insert(0, 'XX')
  other.getText('text').delete(5, 3)
  other.getMap('meta').get('note').insert(1, '--')
  other.getArray('list').delete(0, 1)
  other.getArray('list').insert(2, ['z'])
  const edits = Y.encodeStateAsUpdate(other, before)
  Y.applyUpdate(doc, edits)
  return {
    state: b64(state),
    edits: b64(edits),
    places: places.map(({ where, index, assoc, encoded, rpos }) => {
      const abs = Y.createAbsolutePositionFromRelativePosition(rpos, doc)
      return { where, index, assoc, encoded, after: abs === null ? null : abs.index }
    })
  }
}

// Snapshots of a document with garbage collection off, encoded by Yjs, and the content Yjs
// restores from each.
function snapshots () {
  const doc = new Y.Doc({ gc: false })
  doc.clientID = 3
  const text = doc.getText('text')
  const list = doc.getArray('list')
  const taken = []
  const take = () => {
    const snapshot = Y.snapshot(doc)
    const restored = Y.createDocFromSnapshot(doc, snapshot)
    taken.push({ snapshot: b64(Y.encodeSnapshot(snapshot)), text: restored.getText('text').toString(), list: restored.getArray('list').toJSON() })
  }
  take()
  text.insert(0, 'first draft')
  list.insert(0, ['a', 'b'])
  take()
  text.delete(0, 6)
  text.insert(5, ' version')
  list.delete(0, 1)
  take()
  text.insert(0, 'the ')
  list.insert(1, [{ n: 1 }])
  take()
  return { state: b64(Y.encodeStateAsUpdate(doc)), taken }
}

// Observers: another peer's transactions applied one by one to a document with observers on a
// Text, an Array, a Map and deep observers on a Map with nested types; what each reported.
function events () {
  const peer = new Y.Doc()
  peer.clientID = 8
  const updates = []
  peer.on('update', update => updates.push(update))
  const text = peer.getText('text')
  const list = peer.getArray('list')
  const map = peer.getMap('map')
  const root = peer.getMap('root')
  text.insert(0, 'hello world')
  text.format(0, 5, { bold: true })
  peer.transact(() => { text.delete(2, 3); text.insert(0, 'X') })
  text.insertEmbed(3, { image: 'a.png' })
  text.format(1, 3, { bold: null, italic: true })
  list.insert(0, [1, 2, 3])
  peer.transact(() => { list.delete(1, 1); list.insert(2, ['a', 'b']) })
  list.insert(1, [new Y.Map()])
  map.set('a', 1)
  map.set('b', 'x')
  peer.transact(() => { map.set('a', 2); map.delete('b'); map.set('c', [true]) })
  root.set('child', new Y.Map())
  root.get('child').set('k', 1)
  root.set('note', new Y.Text())
  peer.transact(() => { root.get('note').insert(0, 'abc'); root.get('child').set('k', 2); root.set('n', 5) })
  root.get('child').set('deeper', new Y.Array())
  root.get('child').get('deeper').insert(0, ['x', 'y'])
  peer.transact(() => { root.get('child').get('deeper').delete(0, 1); root.get('note').delete(0, 1) })
  root.delete('child')

  const doc = new Y.Doc()
  doc.clientID = 1
  const reports = []
  let step = []
  const keysOf = event => Array.from(event.keys.entries()).map(([key, change]) => [key, { action: change.action, oldValue: change.oldValue === undefined ? null : change.oldValue }])
  doc.getText('text').observe(event => step.push({ on: 'text', delta: event.delta }))
  doc.getArray('list').observe(event => step.push({ on: 'list', delta: event.delta }))
  doc.getMap('map').observe(event => step.push({ on: 'map', keys: keysOf(event) }))
  doc.getMap('root').observeDeep(events => step.push({
    on: 'root',
    events: events.map(event => ({ path: event.path, delta: event.delta, keys: keysOf(event) }))
  }))
  for (const update of updates) {
    step = []
    Y.applyUpdate(doc, update)
    reports.push(JSON.parse(JSON.stringify(step)))
  }
  return { updates: updates.map(b64), reports }
}

// The undo manager: local edits in steps (stopCapturing between them), another peer's edits
// (not tracked), undos and redos; the document's bytes and content after each.
function undo () {
  const doc = new Y.Doc()
  doc.clientID = 21
  const other = new Y.Doc()
  other.clientID = 7
  const text = doc.getText('text')
  const list = doc.getArray('list')
  const map = doc.getMap('map')
  const um = new Y.UndoManager([text, list, map], { captureTimeout: 1e9 })
  const steps = []
  const record = step => {
    steps.push({ ...step, state: b64(Y.encodeStateAsUpdate(doc)), after: { ...content(doc), list: list.toJSON() } })
  }
  const run = step => {
    switch (step.op) {
      case 'text-insert': text.insert(step.index, step.text); break
      case 'text-delete': text.delete(step.index, step.length); break
      case 'array-insert': list.insert(step.index, step.values); break
      case 'array-delete': list.delete(step.index, step.length); break
      case 'map-set': map.set(step.key, step.value); break
      case 'map-delete': map.delete(step.key); break
      case 'stop': um.stopCapturing(); break
      case 'undo': step.result = um.undo() !== null; break
      case 'redo': step.result = um.redo() !== null; break
      case 'remote': {
        Y.applyUpdate(other, Y.encodeStateAsUpdate(doc, Y.encodeStateVector(other)))
        const before = Y.encodeStateVector(doc)
        if (step.what === 'text') other.getText('text').insert(0, 'R')
        else other.getMap('map').set('a', 'theirs')
        const update = Y.encodeStateAsUpdate(other, before)
        step.update = b64(update)
        Y.applyUpdate(doc, update, 'remote')
        break
      }
    }
    record(step)
  }
  const script = [
    { op: 'text-insert', index: 0, text: 'hello' }, { op: 'stop' },
    { op: 'text-insert', index: 5, text: ' world' }, { op: 'text-delete', index: 0, length: 1 }, { op: 'stop' },
    { op: 'map-set', key: 'a', value: 1 }, { op: 'map-set', key: 'b', value: 'x' }, { op: 'stop' },
    { op: 'map-set', key: 'a', value: 3 }, { op: 'array-insert', index: 0, values: [1, 2, 3] }, { op: 'stop' },
    { op: 'array-delete', index: 1, length: 1 }, { op: 'stop' },
    { op: 'remote', what: 'text' },
    { op: 'undo' }, { op: 'undo' }, { op: 'redo' }, { op: 'undo' }, { op: 'undo' }, { op: 'undo' },
    { op: 'redo' }, { op: 'redo' },
    { op: 'remote', what: 'map' },
    { op: 'undo' }, { op: 'undo' }, { op: 'redo' }, { op: 'redo' }, { op: 'redo' }, { op: 'redo' },
    { op: 'text-delete', index: 0, length: 3 }, { op: 'stop' }, { op: 'undo' }, { op: 'redo' }, { op: 'undo' },
    { op: 'undo' }, { op: 'undo' }, { op: 'undo' }, { op: 'undo' }, { op: 'undo' }, { op: 'undo' }
  ]
  script.forEach(run)
  return { client: doc.clientID, steps }
}

// A driver for mixed sessions: Yjs peers in this process, commanded line by line by the C++ test,
// which runs Cairn's peers itself. Each command is a JSON line; each answer too.
//   {"cmd":"new","peer":P,"client":C}            -> {}
//   {"cmd":"edit","peer":P,"seed":S}             -> {"op":…,"updates":[…]} a random edit
//   {"cmd":"apply","peer":P,"update":B64}        -> {"updates":[…]} (Yjs may answer with a clean-up)
//   {"cmd":"state","peer":P}                     -> {"state":B64,"snapshot":B64,"content":{…}}
//   {"cmd":"load","update":B64}                  -> {"content":{…}} of a fresh document
function driver () {
  const peers = new Map()
  const words = ['a', 'bc', 'hello ', 'é', '中文', '😀', '\n', 'xyz']
  // An index moved off the middle of a surrogate pair: a split there turns both halves into U+FFFD
  // on the peer that splits (Yjs issue 248), and a split that makes no update (a format that
  // changes nothing) would do so on that peer alone.
  // A text's units as its indexes count them: embeds as one (toString() leaves them out, and an
  // XmlText's renders its formats as tags).
  const units = t => t.toDelta().map(op => typeof op.insert === 'string' ? op.insert : '*').join('')
  const snap = (str, i) => (i > 0 && i < str.length && /[\ud800-\udbff]/.test(str[i - 1]) && /[\udc00-\udfff]/.test(str[i])) ? i - 1 : i
  const edit = (doc, random) => {
    const int = n => Math.floor(random() * n)
    const pick = list => list[int(list.length)]
    const attributes = () => {
      const out = {}
      for (let i = 1 + int(2); i > 0; i--) {
        const key = pick(['bold', 'italic', 'link'])
        out[key] = key === 'link' ? pick([{ href: 'https://a.example' }, null]) : pick([true, null])
      }
      return out
    }
    const text = doc.getText('text')
    const list = doc.getArray('list')
    const map = doc.getMap('map')
    const xml = doc.getXmlFragment('xml')
    const kind = int(14)
    if (kind <= 2 || (kind === 3 && text.length === 0)) {
      const op = { op: 'text-insert', index: snap(units(text), int(text.length + 1)), text: pick(words) }
      if (int(3) === 0) op.attributes = attributes()
      text.insert(op.index, op.text, op.attributes)
      return op
    }
    const range = max => {
      const str = units(text)
      const index = snap(str, int(text.length))
      const end = snap(str, index + 1 + int(Math.min(max, text.length - index - 1)))
      return { index, length: Math.max(end - index, 0) }
    }
    if (kind === 3) {
      const op = { op: 'text-delete', ...range(3) }
      text.delete(op.index, op.length)
      return op
    }
    if (kind === 4 && text.length > 0) {
      const op = { op: 'text-format', ...range(4), attributes: attributes() }
      text.format(op.index, op.length, op.attributes)
      return op
    }
    if (kind === 5) {
      const op = { op: 'text-embed', index: snap(units(text), int(text.length + 1)), embed: { image: pick(['a', 'b']) } }
      text.insertEmbed(op.index, op.embed)
      return op
    }
    if (kind === 6 || (kind === 7 && list.length === 0)) {
      const op = { op: 'array-insert', index: int(list.length + 1), values: [int(100), pick(words)].slice(0, 1 + int(2)) }
      list.insert(op.index, op.values)
      return op
    }
    if (kind === 7) {
      const op = { op: 'array-delete', index: int(list.length), length: 1 }
      list.delete(op.index, op.length)
      return op
    }
    if (kind === 8) {
      const op = { op: 'map-set', key: pick(['a', 'b', 'c']), value: pick([int(9), pick(words), true, null, { n: int(5) }]) }
      map.set(op.key, op.value)
      return op
    }
    if (kind === 9) {
      const op = { op: 'map-set-map', key: pick(['m', 'n']), inner: pick(['x', 'y']), value: int(9) }
      doc.transact(() => { map.set(op.key, new Y.Map()).set(op.inner, op.value) })
      return op
    }
    if (kind === 10 || xml.length === 0) {
      const op = { op: 'xml-insert', index: int(xml.length + 1), element: pick(['p', 'h1', null]) }
      xml.insert(op.index, [op.element === null ? new Y.XmlText() : new Y.XmlElement(op.element)])
      return op
    }
    const index = int(xml.length)
    const node = xml.get(index)
    if (kind === 11) {
      const op = { op: 'xml-delete', index }
      xml.delete(index, 1)
      return op
    }
    if (node instanceof Y.XmlText) {
      const op = { op: 'xml-text-insert', index, at: snap(units(node), int(node.length + 1)), text: pick(words) }
      if (int(2) === 0) op.attributes = attributes()
      node.insert(op.at, op.text, op.attributes)
      return op
    }
    const op = { op: 'xml-attribute', index, key: pick(['class', 'id']), value: pick(['a', 'b', String(int(9))]) }
    node.setAttribute(op.key, op.value)
    return op
  }
  const content = doc => ({
    text: doc.getText('text').toString(),
    delta: doc.getText('text').toDelta(),
    list: doc.getArray('list').toJSON(),
    map: doc.getMap('map').toJSON(),
    xml: doc.getXmlFragment('xml').toString()
  })
  const capture = (doc, f) => {
    const updates = []  // what the peer made itself: not what it was given
    const handler = (update, origin) => { if (origin !== 'remote') updates.push(b64(update)) }
    doc.on('update', handler)
    try { f() } finally { doc.off('update', handler) }
    return updates
  }
  const rl = require('readline').createInterface({ input: process.stdin })
  rl.on('line', line => {
    const cmd = JSON.parse(line)
    let out = {}
    if (cmd.cmd === 'new') {
      const doc = new Y.Doc()
      doc.clientID = cmd.client
      peers.set(cmd.peer, doc)
    } else if (cmd.cmd === 'edit') {
      const doc = peers.get(cmd.peer)
      let op
      const updates = capture(doc, () => { op = edit(doc, generator(cmd.seed)) })
      out = { op, updates }
    } else if (cmd.cmd === 'apply') {
      const doc = peers.get(cmd.peer)
      out = { updates: capture(doc, () => Y.applyUpdate(doc, Buffer.from(cmd.update, 'base64'), 'remote')) }
    } else if (cmd.cmd === 'state') {
      const doc = peers.get(cmd.peer)
      out = { state: b64(Y.encodeStateAsUpdate(doc)), snapshot: b64(Y.encodeSnapshot(Y.snapshot(doc))), content: content(doc) }
    } else if (cmd.cmd === 'load') {
      const doc = new Y.Doc()
      Y.applyUpdate(doc, Buffer.from(cmd.update, 'base64'))
      out = { content: content(doc) }
    }
    process.stdout.write(JSON.stringify(out) + '\n')
  })
}

function load (file) {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, fs.readFileSync(file))
  return { ...content(doc), state: b64(Y.encodeStateAsUpdate(doc)) }
}

// Comments in the layout docs/collaboration.md gives, read and written with plain Yjs: the
// document Cairn wrote (FILE) is edited around and inside its comments' ranges, one comment is
// added; each comment's range as Yjs resolves it afterwards, and the state, are printed.
function comments (file) {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, fs.readFileSync(file))
  const text = doc.getText('t')
  const all = doc.getMap('comments')
  text.insert(0, 'Yjs was here. ')          // before every range
  text.insert(text.toString().indexOf('quick') + 2, '--')  // inside one
  const lazy = text.toString().indexOf('lazy ')
  text.delete(lazy, 5)                      // all of another's characters
  const mine = new Y.Map()
  all.set('yjs-1', mine)
  const from = text.toString().indexOf('brown')
  mine.set('text', 't')
  mine.set('start', Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(text, from, 0)))
  mine.set('end', Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(text, from + 5, -1)))
  mine.set('body', 'colour?')
  mine.set('author', 'yjs')
  mine.set('createdAt', 1700000000000)
  mine.set('resolved', false)
  const ranges = {}
  all.forEach((comment, id) => {
    const at = (key) => Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(comment.get(key)), doc).index
    ranges[id] = [at('start'), at('end')]
  })
  return { text: text.toString(), ranges, state: b64(Y.encodeStateAsUpdate(doc)) }
}

const [mode, arg] = process.argv.slice(2)
const modes = { driver, session: () => session(Number(arg)), local: () => local(Number(arg)), rich, formatting: () => formatting(Number(arg)), positions, snapshots, events, undo, load: () => load(arg), comments: () => comments(arg) }
const out = modes[mode]()
if (out !== undefined) process.stdout.write(JSON.stringify(out) + '\n')
