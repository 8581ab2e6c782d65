// The chat page: phoenix.js's Socket, Channel and Presence, exactly as
// against a Phoenix app.
import { Socket, Presence } from "./phoenix.mjs"

const $ = (id) => document.getElementById(id)

$("sign-in").addEventListener("submit", async (e) => {
  e.preventDefault()
  const form = new FormData(e.target)
  const res = await fetch("/sign-in", { method: "POST", body: new URLSearchParams({ name: form.get("name") }) })
  if (!res.ok) { $("status").textContent = await res.text(); return }
  const { token } = await res.json()
  enter(token, form.get("name"), form.get("room"))
})

function enter(token, me, room) {
  const socket = new Socket("/socket", { authToken: token, longPollFallbackMs: 2500 })
  socket.connect()
  const channel = socket.channel("room:" + room)
  const presence = new Presence(channel)

  presence.onSync(() => {
    $("online").replaceChildren(...presence.list((user) => item(user, user === me ? "" : user)))
  })
  channel.on("new_msg", ({ user_id, body }) => {
    const li = item(`${user_id}: ${body}`, user_id === me ? "" : user_id)
    $("messages").append(li)
    li.scrollIntoView()
  })
  channel.join()
    .receive("ok", () => {
      $("status").textContent = `${me} in ${room}`
      $("sign-in").hidden = true
      $("chat").hidden = false
    })
    .receive("error", ({ reason }) => { $("status").textContent = `cannot join ${room}: ${reason}`; socket.disconnect() })

  $("send").addEventListener("submit", (e) => {
    e.preventDefault()
    const input = e.target.elements.body
    channel.push("new_msg", { body: input.value })
      .receive("error", ({ reason }) => { $("status").textContent = `not sent: ${reason}` })
    input.value = ""
  })

  // item returns a list item; with a user to block, a button that blocks them.
  function item(text, blockable) {
    const li = document.createElement("li")
    li.textContent = text
    if (blockable) {
      const b = document.createElement("button")
      b.textContent = "block"
      b.onclick = () => channel.push("block", { user_id: blockable })
      li.append(b)
    }
    return li
  }
}
