// Writes the fixed vectors in tests/crdt/vectors/: updates the real Yjs produced (every content
// kind but the legacy JSON one), what Yjs makes of them, and its merge, diff and state vectors,
// in both update formats. Cairn must decode them to exactly this content (crdt_test, cli_test).
// Regenerate (only when adding vectors; the files are committed):
//   NODE_PATH=build/js/node_modules node tests/js/make_vectors.cjs tests/crdt/vectors
'use strict'
const Y = require('yjs')
const fs = require('fs')
const path = require('path')

const out = process.argv[2]
const write = (name, bytes) => fs.writeFileSync(path.join(out, name), bytes)

// base: formatted text with an embed and deleted text, a map with nested values, bytes and a
// subdocument, an XML fragment, an array with a nested type.
const base = new Y.Doc()
base.clientID = 1
const title = base.getText('title')
title.insert(0, 'Hello wonderful 😀 world')
title.delete(6, 10)
title.format(0, 5, { bold: true })
title.insertEmbed(5, { image: 'cat.png' }, { width: 200 })
const meta = base.getMap('meta')
meta.set('n', 1)
meta.set('tags', ['a', { b: 2, 1: 'one' }])
meta.set('bytes', new Uint8Array([0, 1, 254]))
meta.set('sub', new Y.Doc({ guid: 'sub-1' }))
meta.set('gone', 'soon')
meta.delete('gone')
const body = base.getXmlFragment('body')
const paragraph = new Y.XmlElement('paragraph')
paragraph.setAttribute('align', 'left')
const text = new Y.XmlText()
text.insert(0, 'hi ', { italic: true })
text.insert(3, 'there')
paragraph.insert(0, [text])
body.insert(0, [paragraph, new Y.XmlElement('hr')])
const list = base.getArray('list')
list.insert(0, [1, 'x', null, true, 2.5])
const nested = new Y.Map()
list.insert(2, [nested])
nested.set('k', 'v')

// edit: a second client's change on top of base.
const edit = new Y.Doc()
edit.clientID = 2
Y.applyUpdate(edit, Y.encodeStateAsUpdate(base))
edit.getText('title').insert(0, '>> ')
edit.getArray('list').delete(0, 1)
edit.getMap('meta').set('n', 2)

const baseUpdate = Y.encodeStateAsUpdate(base)
const editUpdate = Y.encodeStateAsUpdate(edit, Y.encodeStateVector(base))
const merged = Y.mergeUpdates([baseUpdate, editUpdate])
const baseVector = Y.encodeStateVector(base)
write('base.update', baseUpdate)
write('edit.update', editUpdate)
write('base.sv', baseVector)
write('merged.update', merged)
write('merged.sv', Y.encodeStateVectorFromUpdate(merged))
write('diff.update', Y.diffUpdate(merged, baseVector))
write('state.update', Y.encodeStateAsUpdate(edit))
const baseUpdate2 = Y.encodeStateAsUpdateV2(base)
const editUpdate2 = Y.encodeStateAsUpdateV2(edit, Y.encodeStateVector(base))
const merged2 = Y.mergeUpdatesV2([baseUpdate2, editUpdate2])
write('base.update2', baseUpdate2)
write('edit.update2', editUpdate2)
write('merged.update2', merged2)
write('diff.update2', Y.diffUpdateV2(merged2, baseVector))
write('converted.update2', Y.convertUpdateFormatV1ToV2(merged))
write('converted.update', Y.convertUpdateFormatV2ToV1(merged2))
write('state.update2', Y.encodeStateAsUpdateV2(edit))

// What Yjs makes of the edited document, as `cairn ydoc show` prints it.
const show = {
  body: edit.getXmlFragment('body').toString(),
  list: edit.getArray('list').toJSON(),
  meta: edit.getMap('meta').toJSON(),
  title: edit.getText('title').toString()
}
const delta = Object.assign({}, show, { title: edit.getText('title').toDelta() })
delete show.meta.sub // a subdocument has no JSON of its own: Yjs's toJSON gives the Doc object
delete delta.meta.sub
fs.writeFileSync(path.join(out, 'expected.json'), JSON.stringify({ show, delta }, null, 1) + '\n')
