// Collaborative documents under load: cairnd's /api/collab beside the reference y-websocket
// server (@y/websocket-server, the version tests/js/package.json pins), the same workload in the
// same run, driven by the unmodified y-websocket provider (issue 13, docs/BENCHMARKS.md).
//
//   NODE_PATH=build/js/node_modules node bench/js/collab_bench.cjs \
//     --cairnd build/release/tools/cairnd [--docs 10] [--editors 4] [--edits 500] [--rate 200]
//
// Workload: DOCS documents, EDITORS editors each (one Node process holds them all); the B4 trace
// (bench/data/automerge-paper.json.gz) dealt out among each document's editors, every editor
// typing its share at RATE edits a second (positions clamped to the text as it is). Meanwhile a
// probe every 20 ms per document: one editor types into a second text and every other editor of
// the document notes when it arrives (one process, one clock): the relay latency. Then: updates
// per second until every editor of every document holds the same text, the server's CPU time and
// peak memory (from /proc), and the time a new editor takes to join a document holding B4's final
// state (for cairnd, loaded from its storage after a restart; the reference server keeps documents
// in memory only).
'use strict'
const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')
const WebSocket = require('ws')
const fs = require('fs')
const os = require('os')
const path = require('path')
const http = require('http')
const zlib = require('zlib')
const { spawn } = require('child_process')

const args = process.argv.slice(2)
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`)
  return at >= 0 ? args[at + 1] : fallback
}
const cairndPath = option('cairnd', 'build/release/tools/cairnd')
const DOCS = Number(option('docs', 10))
const EDITORS = Number(option('editors', 4))
const EDITS = Number(option('edits', 500)) // per editor
const RATE = Number(option('rate', 200)) // edits a second, per editor
const root = path.resolve(__dirname, '..', '..')
process.setMaxListeners(0) // every provider listens for the process's exit

const now = () => Number(process.hrtime.bigint()) / 1e6
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}
const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(root, 'bench/data/automerge-paper.json.gz'))).toString('utf8'))
const patches = trace.txns.flatMap((txn) => txn.patches)

function request (port, method, target, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target, headers }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    if (body) req.write(body)
    req.end()
  })
}

async function waitForPort (port) {
  for (let i = 0; i < 200; i++) {
    try { await request(port, 'GET', '/healthz'); return } catch { await sleep(50) }
  }
  throw new Error(`nothing answers on port ${port}`)
}

function freePort () {
  return new Promise((resolve) => {
    const server = require('net').createServer()
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)) })
  })
}

// /proc/PID: CPU seconds used, and the peak resident set (bytes).
function usage (pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  const ticks = Number(stat[11]) + Number(stat[12])
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)[1]) * 1024
  return { cpu: ticks / 100, peak: hwm }
}

// A server under test: how to start it and how editors reach a document.
async function startCairnd (dataDir, port) {
  const child = spawn(cairndPath, ['--port', String(port), '--data', dataDir, '--durability', 'normal', '--rate-limit', '0', '--log-level', 'warn'], { stdio: 'inherit' })
  await waitForPort(port)
  return child
}

async function cairnd () {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-bench-'))
  const port = await freePort()
  let child = await startCairnd(dataDir, port)
  const guest = JSON.parse((await request(port, 'POST', '/api/auth/guest')).body.toString())
  return {
    name: 'cairnd',
    pid: () => child.pid,
    url: `ws://127.0.0.1:${port}/api/collab`,
    room: (name) => `${guest.datasetId}/${name}`,
    params: { token: guest.token },
    // Puts `update` into document `name`, then restarts: joining loads it from storage.
    async prepareLarge (name, update) {
      const res = await request(port, 'POST', `/api/collab/${guest.datasetId}/${name}`, update,
        { Authorization: `Bearer ${guest.token}`, 'Content-Type': 'application/octet-stream' })
      if (res.status !== 200) throw new Error(`POST failed: ${res.status} ${res.body}`)
      child.kill('SIGTERM')
      await new Promise((resolve) => child.on('exit', resolve))
      child = await startCairnd(dataDir, port)
    },
    async stop () {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.on('exit', resolve))
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

async function reference () {
  const port = await freePort()
  const server = path.join(root, 'build/js/node_modules/@y/websocket-server/src/server.js')
  const child = spawn(process.execPath, [server], { env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] })
  for (let i = 0; i < 200; i++) {
    try { await request(port, 'GET', '/'); break } catch { await sleep(50) }
  }
  return {
    name: 'y-websocket-server',
    pid: () => child.pid,
    url: `ws://127.0.0.1:${port}`,
    room: (name) => name,
    params: {},
    // In memory only: an editor puts the update in, and stays (the document would go with it).
    async prepareLarge (name, update) {
      const doc = new Y.Doc()
      Y.applyUpdate(doc, update)
      const provider = connect(this, name, doc)
      await synced(provider)
      this.keeper = provider
    },
    async stop () {
      if (this.keeper) this.keeper.destroy()
      child.kill('SIGTERM')
      await new Promise((resolve) => child.on('exit', resolve))
    }
  }
}

function connect (server, name, doc) {
  return new WebsocketProvider(server.url, server.room(name), doc, { WebSocketPolyfill: WebSocket, params: server.params, disableBc: true })
}
function synced (provider) {
  return new Promise((resolve) => {
    if (provider.synced) return resolve()
    provider.on('sync', (s) => { if (s) resolve() })
  })
}

async function run (server) {
  const documents = []
  for (let d = 0; d < DOCS; d++) {
    const editors = []
    for (let e = 0; e < EDITORS; e++) {
      const doc = new Y.Doc()
      editors.push({ doc, provider: connect(server, `load-${d}`, doc) })
    }
    documents.push(editors)
  }
  await Promise.all(documents.flat().map((e) => synced(e.provider)))
  // Relay latency probes.
  const latencies = []
  const pending = new Map() // probe id -> sent at
  let probeId = 0
  documents.forEach((editors) => editors.forEach((editor, index) => {
    editor.doc.getMap('probe').observe((event) => {
      if (event.transaction.local) return
      for (const key of event.keysChanged) {
        const sent = pending.get(key)
        if (sent !== undefined) latencies.push(now() - sent)
      }
    })
  }))
  let probing = true
  const probes = (async () => {
    while (probing) {
      for (const editors of documents) {
        const key = `p${probeId++}`
        pending.set(key, now())
        editors[probeId % EDITORS].doc.getMap('probe').set(key, 1)
      }
      await sleep(20)
    }
  })()
  const cpuBefore = usage(server.pid()).cpu
  const started = now()
  let sent = 0
  // Each editor types its share of the trace at RATE edits a second.
  await Promise.all(documents.flatMap((editors) => editors.map(async (editor, e) => {
    const text = editor.doc.getText('t')
    for (let i = 0; i < EDITS; i++) {
      const [pos, del, ins] = patches[(i * EDITORS + e) % patches.length]
      const at = Math.min(pos, text.length)
      if (del > 0 && at < text.length) text.delete(at, Math.min(del, text.length - at))
      if (ins.length > 0) text.insert(at, ins)
      sent++
      if (i % 10 === 9) await sleep(10000 / RATE)
    }
  })))
  // Until every editor of every document holds the same text.
  for (;;) {
    const same = documents.every((editors) => editors.every((e) => e.doc.getText('t').toString() === editors[0].doc.getText('t').toString()))
    if (same) break
    await sleep(5)
  }
  const elapsed = (now() - started) / 1000
  probing = false
  await probes
  const { cpu, peak } = usage(server.pid())
  for (const editor of documents.flat()) editor.provider.destroy()
  // A new editor joins a document holding B4's final state.
  const large = new Y.Doc()
  const text = large.getText('t')
  for (const [pos, del, ins] of patches) {
    if (del > 0) text.delete(pos, del)
    if (ins.length > 0) text.insert(pos, ins)
  }
  await server.prepareLarge('b4', Y.encodeStateAsUpdate(large))
  const joining = new Y.Doc()
  const joinStart = now()
  const provider = connect(server, 'b4', joining)
  await synced(provider)
  const joinMs = now() - joinStart
  const joinedLength = joining.getText('t').length
  provider.destroy()
  return {
    server: server.name,
    updatesPerSecond: sent / elapsed,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    probes: latencies.length,
    cpuSeconds: cpu - cpuBefore,
    peakMB: peak / 1024 / 1024,
    joinMs,
    joinedLength
  }
}

async function main () {
  const results = []
  for (const make of [cairnd, reference]) {
    const server = await make()
    try {
      results.push(await run(server))
    } finally {
      await server.stop()
    }
  }
  console.log(`${DOCS} documents x ${EDITORS} editors, ${EDITS} edits each at ${RATE}/s (B4 trace dealt out), probes every 20 ms`)
  console.log('server               updates/s   relay p50   relay p99   CPU s   peak MB   join B4 (ms)')
  for (const r of results) {
    console.log(`${r.server.padEnd(20)} ${r.updatesPerSecond.toFixed(0).padStart(9)} ${r.p50.toFixed(2).padStart(9)} ms ${r.p99.toFixed(2).padStart(8)} ms ${r.cpuSeconds.toFixed(2).padStart(7)} ${r.peakMB.toFixed(1).padStart(9)} ${r.joinMs.toFixed(1).padStart(12)}  (${r.joinedLength} chars)`)
  }
  console.log(`reproduce: NODE_PATH=build/js/node_modules node bench/js/collab_bench.cjs --cairnd ${cairndPath} --docs ${DOCS} --editors ${EDITORS} --edits ${EDITS} --rate ${RATE}`)
  process.exit(0)
}

main().catch((e) => { console.error(e); process.exit(1) })
