// The Fawkes console: watch a room's CloudEvents live and send some, with the
// real phoenix.js client (bundled from the npm package).
import { Socket, LongPoll } from "./phoenix.mjs"

const $ = (id) => document.getElementById(id)
let socket = null
let channel = null
let current = [] // the channel's type patterns, as the server last said

function log(text) {
  const li = document.createElement("li")
  li.textContent = `${new Date().toISOString()} ${text}`
  $("log").prepend(li)
}

function setStatus(text, cls) {
  $("status").textContent = text
  $("status").className = `status ${cls}`
}

function setJoined(joined) {
  $("apply-filter").disabled = !joined
  $("send").disabled = !joined
}

function addEvent(ev) {
  const tr = document.createElement("tr")
  const data = ev.data !== undefined ? JSON.stringify(ev.data) : (ev.data_base64 ? `base64:${ev.data_base64}` : "")
  for (const [cls, value] of [["time", ev.time || new Date().toISOString()], ["type", ev.type], ["source", ev.source], ["id", ev.id], ["data", data]]) {
    const td = document.createElement("td")
    td.className = cls
    td.textContent = value ?? ""
    tr.appendChild(td)
  }
  $("events").tBodies[0].prepend(tr)
  $("count").textContent = String($("events").tBodies[0].rows.length)
}

function patterns() {
  return $("patterns").value.split(",").map((p) => p.trim()).filter((p) => p.length > 0)
}

function connect(event) {
  event.preventDefault()
  disconnect()
  const longpoll = $("transport").value === "longpoll"
  const opts = longpoll ? { transport: LongPoll } : {}
  socket = new Socket("/socket", opts)
  socket.onOpen(() => setStatus(`connected (${longpoll ? "LongPoll" : "WebSocket"})`, "on"))
  socket.onError(() => setStatus("connection error", "err"))
  socket.onClose(() => setStatus("disconnected", "off"))
  socket.connect()
  const topic = `events:${$("room").value}`
  const params = patterns().length ? { event_types: patterns() } : {}
  channel = socket.channel(topic, params)
  channel.on("cloudevent", addEvent)
  channel.on("heartbeat", (p) => log(`heartbeat ${p.timestamp}`))
  channel.on("error", (p) => log(`error ${JSON.stringify(p)}`))
  channel.join()
    .receive("ok", (resp) => {
      current = resp.event_types || []
      $("filter-state").textContent = current.length ? current.join(", ") : "all types"
      setJoined(true)
      log(`joined ${topic} ${JSON.stringify(resp)}`)
    })
    .receive("error", (resp) => { setJoined(false); log(`join refused: ${JSON.stringify(resp)}`) })
  channel.onError(() => setJoined(false))
  $("disconnect").disabled = false
}

function disconnect() {
  if (socket) { socket.disconnect() }
  socket = null
  channel = null
  setJoined(false)
  $("disconnect").disabled = true
  setStatus("disconnected", "off")
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
    .receive("ok", (r) => { $("send-result").textContent = `sent ${r.id}`; addEvent(ce) })
    .receive("error", (r) => { $("send-result").textContent = `${r.message} ${JSON.stringify(r.errors || [])}` })
    .receive("timeout", () => { $("send-result").textContent = "timeout" })
}

$("connect-form").addEventListener("submit", connect)
$("disconnect").addEventListener("click", disconnect)
$("filter-form").addEventListener("submit", applyFilter)
$("send-form").addEventListener("submit", send)
