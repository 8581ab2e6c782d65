// The Fawkes operator console: this node's figures (connections, rooms,
// nodes, messages per second), a room's CloudEvents and presence, and a form
// to send events, with the real phoenix.js client (the npm package's build).
//
// Server side (cmd/fawkes/console.go): GET /console/stats (the figures, for
// whoever may publish through the ingress) and GET /console/check (what a
// socket connect would get, so that a refusal shows its reason instead of
// phoenix.js retrying against 403 forever).
import { Socket, LongPoll, Presence } from "./phoenix.mjs"

const MAX_ROWS = 200 // the events table keeps the newest rows only
const MAX_LOG = 100
const STATS_EVERY_MS = 1000
const CHART_POINTS = 60 // one a second: the last minute
const RECONNECT_MS = [100, 250, 500, 1000, 2000, 5000]

const $ = (id) => document.getElementById(id)

let socket = null
let channel = null
let presence = null
let current = [] // the channel's type patterns, as the server last said
let lastEventID = null // of the last CloudEvent shown: a rejoin resumes after it
let replaying = 0 // events still to come of the replay the last rejoin announced
let manual = false // the operator disconnected: closes are not failures
let attempts = 0 // failed connects since the last open
let total = 0 // events shown since the page loaded, sent and received
let lastStats = null
const samples = [] // {in, out} messages per second

function log(text) {
  const li = document.createElement("li")
  li.textContent = `${new Date().toISOString()} ${text}`
  $("log").prepend(li)
  while ($("log").children.length > MAX_LOG) { $("log").lastElementChild.remove() }
}

function setStatus(text, cls) {
  $("status").textContent = text
  $("status").className = `status ${cls}`
}

function setJoined(joined) {
  $("apply-filter").disabled = !joined
  $("send").disabled = !joined
}

function token() { return $("token").value.trim() }

function authHeaders() {
  const t = token()
  return t ? { Authorization: `Bearer ${t}` } : {}
}

function showToken() { $("token-field").hidden = false }

// addEvent puts an event at the top of the table, marked as sent by this
// page or received from the room; past MAX_ROWS the oldest rows go.
function addEvent(ev, dir) {
  total++
  const tr = document.createElement("tr")
  tr.className = dir
  const data = ev.data !== undefined ? JSON.stringify(ev.data) : (ev.data_base64 ? `base64:${ev.data_base64}` : "")
  const cells = [["dir", dir], ["time", ev.time || new Date().toISOString()], ["type", ev.type], ["source", ev.source], ["id", ev.id], ["data", data]]
  for (const [cls, value] of cells) {
    const td = document.createElement("td")
    td.className = cls
    td.textContent = value ?? ""
    tr.appendChild(td)
  }
  const body = $("events").tBodies[0]
  body.prepend(tr)
  while (body.rows.length > MAX_ROWS) { body.deleteRow(-1) }
  $("count").textContent = String(total)
  $("shown").textContent = total > MAX_ROWS ? `(the newest ${MAX_ROWS} shown)` : ""
}

function patterns() {
  return $("patterns").value.split(",").map((p) => p.trim()).filter((p) => p.length > 0)
}

// check asks the server what a connect would get: {ok}, {refused, reason},
// or {unreachable} when the server does not answer.
async function check() {
  try {
    const res = await fetch(`/console/check?origin=${encodeURIComponent(location.origin)}`, { headers: authHeaders(), cache: "no-store" })
    if (!res.ok) { return { unreachable: true, reason: `HTTP ${res.status}` } }
    const v = await res.json()
    if (v.auth && v.auth !== "none") { showToken() }
    if (v.ok) { return { ok: true } }
    return v.retry ? { unreachable: true, reason: v.reason } : { refused: true, reason: v.reason }
  } catch {
    return { unreachable: true, reason: "server unreachable" }
  }
}

// refuse stops phoenix.js retrying: the server said no, and will say it again.
function refuse(reason) {
  stopSocket()
  setStatus(`refused: ${reason}`, "err")
  log(`connection refused: ${reason}`)
  if (/token/.test(reason)) { showToken(); $("token").focus() }
}

let checking = false
async function failed(s) {
  if (checking) { return }
  checking = true
  const v = await check()
  checking = false
  if (s !== socket || manual) { return }
  if (v.refused) { refuse(v.reason); return }
  if (v.ok && attempts === 0) { return } // opened meanwhile
  setStatus(`reconnecting (attempt ${Math.max(attempts, 1)})${v.reason ? `: ${v.reason}` : ""}`, "wait")
}

async function connect(event) {
  event.preventDefault()
  disconnect()
  manual = false
  const longpoll = $("transport").value === "longpoll"
  const name = longpoll ? "LongPoll" : "WebSocket"
  setStatus("connecting…", "wait")
  $("disconnect").disabled = false
  const v = await check()
  if (manual) { return }
  if (v.refused) { refuse(v.reason); return }
  const opts = { reconnectAfterMs: (tries) => RECONNECT_MS[tries - 1] ?? 5000 }
  if (longpoll) { opts.transport = LongPoll }
  if (token()) { opts.authToken = token() }
  const s = new Socket("/socket", opts)
  socket = s
  attempts = 0
  s.onOpen(() => {
    if (s !== socket) { return }
    attempts = 0
    setStatus(`connected (${name})`, "on")
  })
  s.onError(() => { if (s === socket && !manual) { failed(s) } })
  s.onClose(() => {
    if (s !== socket || manual) { return }
    attempts++
    setJoined(false)
    setStatus(`reconnecting (attempt ${attempts})…`, "wait")
  })
  s.connect()

  const topic = `events:${$("room").value}`
  const payload = { meta: { client: "fawkes console" } }
  if (patterns().length) { payload.event_types = patterns() }
  lastEventID = null
  replaying = 0
  // phoenix.js evaluates the params again at every rejoin: after a drop, the
  // server replays what the room broadcast since the last event shown.
  channel = s.channel(topic, () => (lastEventID ? { ...payload, last_event_id: lastEventID } : payload))
  channel.on("cloudevent", (ev) => {
    lastEventID = ev.id
    addEvent(ev, replaying > 0 ? "replayed" : "received")
    if (replaying > 0) { replaying-- }
  })
  channel.on("heartbeat", (p) => log(`heartbeat ${p.timestamp}`))
  channel.on("error", (p) => log(`error ${JSON.stringify(p)}`))
  presence = new Presence(channel)
  presence.onSync(renderPresence)
  $("presence-state").textContent = lastStats && !lastStats.presence ? "presence is off on this server (--presence)" : "waiting for the member list…"
  channel.join()
    .receive("ok", (resp) => {
      current = resp.event_types || []
      $("filter-state").textContent = current.length ? current.join(", ") : "all types"
      setJoined(true)
      log(`joined ${topic} ${JSON.stringify(resp)}`)
      showResume(resp)
    })
    .receive("error", (resp) => {
      setJoined(false)
      setStatus(`connected (${name}); join refused: ${resp.reason || JSON.stringify(resp)}`, "err")
      log(`join refused: ${JSON.stringify(resp)}`)
    })
  channel.onError(() => setJoined(false))
}

// resumeState is the line that says what the last rejoin recovered.
function resumeState() {
  let el = $("resume-state")
  if (!el) {
    el = document.createElement("span")
    el.id = "resume-state"
    el.setAttribute("role", "status")
    $("connect-form").append(el)
  }
  return el
}

// showResume says what a rejoin recovered (the join's "ok" runs again at
// every rejoin); the replayed events are marked "replayed" in the table.
function showResume(resp) {
  if (resp.recovered === true) {
    replaying = resp.replayed
    resumeState().textContent = `resumed: ${resp.replayed} missed event${resp.replayed === 1 ? "" : "s"} replayed`
    resumeState().className = "resume ok"
    log(`resumed after ${lastEventID}: ${resp.replayed} missed events replayed`)
  } else if (resp.recovered === false) {
    replaying = 0
    resumeState().textContent = `recovery failed: ${lastEventID} is no longer in the history; events sent while disconnected are missing`
    resumeState().className = "resume err"
    log(`recovery failed after ${lastEventID}: not in the room's history any more (or history is off)`)
  }
}

function stopSocket() {
  if (socket) { socket.disconnect() }
  socket = null
  channel = null
  presence = null
  setJoined(false)
  $("disconnect").disabled = true
}

function disconnect() {
  manual = true
  stopSocket()
  setStatus("disconnected", "off")
  $("presence-list").replaceChildren()
  $("presence-count").textContent = "0"
  $("presence-state").textContent = "join a room to see its members"
}

function renderPresence() {
  if (!presence) { return }
  const members = presence.list((key, { metas }) => ({ key, metas }))
  const items = members.map(({ key, metas }) => {
    const li = document.createElement("li")
    const since = Math.min(...metas.map((m) => m.online_at || Infinity))
    const mine = metas.some((m) => m.client === "fawkes console")
    li.dataset.key = key
    li.textContent = `${key}${mine ? " (a console)" : ""} · ${metas.length} connection${metas.length === 1 ? "" : "s"}` +
      (Number.isFinite(since) ? ` · since ${new Date(since * 1000).toLocaleTimeString()}` : "")
    return li
  })
  $("presence-list").replaceChildren(...items)
  $("presence-count").textContent = String(members.length)
  $("presence-state").textContent = members.length ? "" : "no members"
}

// applyFilter replaces the channel's type patterns: unsubscribe the current
// ones, then subscribe the wanted ones (none means every type).
function applyFilter(event) {
  event.preventDefault()
  const wanted = patterns()
  const subscribe = () => {
    if (wanted.length === 0) { current = []; $("filter-state").textContent = "all types"; return }
    channel.push("subscribe", { event_types: wanted })
      .receive("ok", (r) => { current = r.event_types; $("filter-state").textContent = current.join(", ") })
      .receive("error", (r) => { $("filter-state").textContent = r.message })
  }
  if (current.length === 0) { subscribe(); return }
  channel.push("unsubscribe", { event_types: current }).receive("ok", subscribe)
}

function send(event) {
  event.preventDefault()
  const ce = {
    specversion: "1.0",
    id: crypto.randomUUID(),
    source: $("ce-source").value,
    type: $("ce-type").value,
    time: new Date().toISOString(),
    datacontenttype: "application/json",
  }
  if ($("ce-subject").value) { ce.subject = $("ce-subject").value }
  try {
    const text = $("ce-data").value.trim()
    if (text) { ce.data = JSON.parse(text) }
  } catch (e) {
    $("send-result").textContent = `data is not JSON: ${e.message}`
    return
  }
  channel.push("cloudevent", ce)
    .receive("ok", (r) => { $("send-result").textContent = `sent ${r.id}`; lastEventID = ce.id; addEvent(ce, "sent") })
    .receive("error", (r) => { $("send-result").textContent = `${r.message} ${JSON.stringify(r.errors || [])}` })
    .receive("timeout", () => { $("send-result").textContent = "timeout" })
}

// Figures: GET /console/stats every second; rates from the counters' deltas.
function renderStats(s) {
  $("server-info").textContent = `${s.version} · node ${s.node} · pub/sub ${s.pubsub} · auth ${s.auth}`
  if (s.auth !== "none") { showToken() }
  const ws = s.connections.websocket, lp = s.connections.longpoll
  $("stat-connections").textContent = String(ws + lp)
  $("stat-connections").title = `${ws} WebSocket, ${lp} LongPoll`
  $("stat-rooms").textContent = String(s.rooms)
  $("stat-nodes").textContent = s.nodes != null ? String(s.nodes) : (s.pubsub === "memory" ? "1 (no cluster)" : "? (Redis unreachable)")
  if (lastStats && s.time > lastStats.time) {
    const dt = s.time - lastStats.time
    const rate = { in: Math.max(0, s.messages_received - lastStats.messages_received) / dt, out: Math.max(0, s.messages_sent - lastStats.messages_sent) / dt }
    samples.push(rate)
    while (samples.length > CHART_POINTS) { samples.shift() }
    $("stat-rate-in").textContent = rate.in.toFixed(1)
    $("stat-rate-out").textContent = rate.out.toFixed(1)
    drawChart()
  }
  lastStats = s
  $("stats-state").textContent = s.draining ? "draining: this node is shutting down" : `live, every ${STATS_EVERY_MS / 1000} s`
}

function drawChart() {
  const top = Math.max(1, ...samples.map((r) => Math.max(r.in, r.out)))
  const step = 300 / (CHART_POINTS - 1)
  const offset = CHART_POINTS - samples.length
  const points = (key) => samples.map((r, i) => `${((offset + i) * step).toFixed(1)},${(78 - (r[key] / top) * 76).toFixed(1)}`).join(" ")
  $("chart-in").setAttribute("points", points("in"))
  $("chart-out").setAttribute("points", points("out"))
  $("chart-max").textContent = top >= 10 ? String(Math.round(top)) : top.toFixed(1)
}

async function pollStats() {
  try {
    const res = await fetch("/console/stats", { headers: authHeaders(), cache: "no-store" })
    if (res.status === 401) {
      const body = await res.json()
      $("stats-state").textContent = `figures refused: ${body.message}`
      lastStats = null
      showToken()
    } else if (!res.ok) {
      $("stats-state").textContent = `figures unavailable: HTTP ${res.status}`
    } else {
      renderStats(await res.json())
    }
  } catch {
    $("stats-state").textContent = "figures: server unreachable"
  }
  setTimeout(pollStats, STATS_EVERY_MS)
}

$("connect-form").addEventListener("submit", connect)
$("disconnect").addEventListener("click", disconnect)
$("filter-form").addEventListener("submit", applyFilter)
$("send-form").addEventListener("submit", send)
pollStats()
