// Drives the demo editor (/demo/editor) in a real headless Chromium, over the DevTools protocol
// (with the ws package), for tests/server/demo_browser_test.cpp:
//
//   node browser_demo.cjs PORT SCREENSHOT.png
//
// Opens two pages of one browser ("alice" and "bob": one guest session, kept in localStorage),
// waits until both have synced, prints {"token","dataset"} (so that a Cairn device joins the same
// document), and on the line "go" types into each editor as a user would (CodeMirror
// transactions), adds a comment from alice's page, waits until both pages hold the same text with
// every party's words, then prints what the pages show ({"a","b","peers","comments"}), takes a
// screenshot of alice's page ({"screenshot","bytes"}) and waits for "quit".
'use strict'
const { spawn } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const readline = require('readline')
const WebSocket = require('ws')

const [port, screenshotFile] = process.argv.slice(2)
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n')
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-chromium-'))
const chromium = spawn('/usr/bin/chromium', ['--headless=new', '--no-sandbox', '--disable-gpu',
  '--no-first-run', '--remote-debugging-port=0', `--user-data-dir=${profile}`,
  '--window-size=1200,800', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] })
// Chromium says where its DevTools endpoint listens, on stderr, once it does.
const endpoint = new Promise((resolve, reject) => {
  readline.createInterface({ input: chromium.stderr }).on('line', (line) => {
    const found = /DevTools listening on (ws:\/\/\S+)/.exec(line)
    if (found) resolve(found[1])
  })
  chromium.on('exit', (code) => reject(new Error(`chromium exited (${code}) before listening`)))
})
const lines = []
const readers = []
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  readers.length ? readers.shift()(line) : lines.push(line)
})
const nextLine = () => new Promise((resolve) => lines.length ? resolve(lines.shift()) : readers.push(resolve))
const done = (code) => {
  chromium.kill('SIGKILL')
  fs.rmSync(profile, { recursive: true, force: true })
  process.exit(code)
}

// The DevTools protocol: send(method, params, session) answers with the result; once(method,
// session) resolves at the next such event.
async function devtools () {
  const socket = new WebSocket(await endpoint)
  await new Promise((resolve, reject) => { socket.on('open', resolve); socket.on('error', reject) })
  let next = 0
  const waiting = new Map()
  const listeners = []
  socket.on('message', (data) => {
    const message = JSON.parse(data)
    if (message.id !== undefined && waiting.has(message.id)) {
      const { resolve, reject } = waiting.get(message.id)
      waiting.delete(message.id)
      message.error ? reject(new Error(JSON.stringify(message.error))) : resolve(message.result)
    } else if (message.method) {
      const at = listeners.findIndex((l) => l.method === message.method && l.sessionId === message.sessionId)
      if (at >= 0) listeners.splice(at, 1)[0].resolve(message.params)
    }
  })
  const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
    const id = ++next
    waiting.set(id, { resolve, reject })
    socket.send(JSON.stringify({ id, method, params, sessionId }))
  })
  const once = (method, sessionId) => new Promise((resolve) => listeners.push({ method, sessionId, resolve }))
  return { send, once }
}

async function main () {
  const { send, once } = await devtools()
  const open = async (who) => {
    const { targetId } = await send('Target.createTarget', { url: 'about:blank' })
    const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true })
    await send('Page.enable', {}, sessionId)
    const loaded = once('Page.loadEventFired', sessionId)
    await send('Page.navigate', { url: `http://127.0.0.1:${port}/demo/editor?name=${who}` }, sessionId)
    await loaded
    const evaluate = async (expression) => {
      const { result, exceptionDetails } = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId)
      if (exceptionDetails) throw new Error(`${who}: ${exceptionDetails.exception ? exceptionDetails.exception.description : exceptionDetails.text}`)
      return result.value
    }
    return { who, sessionId, evaluate }
  }
  // Resolves once `expression` holds in the page: checked now and again at each change that can
  // make it hold (the DOM, the document, the provider's sync); the page's editor script may still
  // be starting. Fails after 20 s.
  const until = async (page, expression, what) => {
    const holds = await page.evaluate(`new Promise((resolve) => {
      const check = () => {
        try { if (${expression}) { stop(); resolve(true); return } } catch { /* not ready yet */ }
        hook()
      }
      let hooked = false
      const hook = () => {
        if (hooked || window.cairnDemo === undefined) return
        hooked = true
        window.cairnDemo.ydoc.on('update', check)
        window.cairnDemo.provider.on('sync', check)
      }
      const observer = new MutationObserver(check)
      const timer = setTimeout(() => { stop(); resolve(false) }, 20000)
      const stop = () => {
        observer.disconnect()
        clearTimeout(timer)
        if (hooked) { window.cairnDemo.ydoc.off('update', check); window.cairnDemo.provider.off('sync', check) }
      }
      observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true })
      check()
    })`)
    if (!holds) throw new Error(`${page.who}: ${what} did not happen`)
  }
  const alice = await open('alice')
  await until(alice, 'window.cairnDemo !== undefined && window.cairnDemo.synced()', 'sync')
  const bob = await open('bob')
  await until(bob, 'window.cairnDemo !== undefined && window.cairnDemo.synced()', 'sync')
  const session = await alice.evaluate('window.cairnDemo.session')
  say({ token: session.token, dataset: session.datasetId })
  await nextLine() // "go"
  const type = (page, where, text) => page.evaluate(`(() => {
    const view = window.cairnDemo.view
    const at = ${where === 'end' ? 'view.state.doc.length' : '0'}
    view.dispatch({ changes: { from: at, insert: ${JSON.stringify(text)} }, selection: { anchor: at + ${text.length} } })
    return true
  })()`)
  await type(alice, 'start', 'alice was here. ')
  await type(bob, 'end', ' bob too.')
  await alice.evaluate("(() => { const at = window.cairnDemo.ytext.toString().indexOf('alice'); window.cairnDemo.addComment(at, at + 5, 'hello from alice'); return true })()")
  const all = "(() => { const t = window.cairnDemo.ytext.toString(); return t.includes('alice was here') && t.includes('bob too') && t.includes('device says hi') })()"
  await until(alice, all, 'every edit')
  await until(bob, all, 'every edit')
  await until(bob, "document.querySelectorAll('#comments .comment').length === 1", 'the comment')
  await until(alice, "document.querySelectorAll('#peers li').length >= 3", 'three peers')
  const a = await alice.evaluate('window.cairnDemo.view.state.doc.toString()')
  const b = await bob.evaluate('window.cairnDemo.view.state.doc.toString()')
  const peers = await alice.evaluate("[...document.querySelectorAll('#peers li')].map((li) => li.textContent)")
  const comments = await bob.evaluate("[...document.querySelectorAll('#comments .comment')].map((c) => c.textContent)")
  const editor = await alice.evaluate("document.querySelector('#editor .cm-editor') !== null")
  say({ a, b, peers, comments, editor })
  await send('Emulation.setDeviceMetricsOverride', { width: 1200, height: 800, deviceScaleFactor: 1, mobile: false }, alice.sessionId)
  const shot = await send('Page.captureScreenshot', { format: 'png' }, alice.sessionId)
  const png = Buffer.from(shot.data, 'base64')
  fs.writeFileSync(screenshotFile, png)
  say({ screenshot: screenshotFile, bytes: png.length, width: png.readUInt32BE(16), height: png.readUInt32BE(20) })
  await nextLine() // "quit"
  done(0)
}

main().catch((error) => { say({ error: String(error && error.stack || error) }); done(1) })
