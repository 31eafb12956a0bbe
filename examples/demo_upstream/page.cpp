#include "examples/demo_upstream/page.h"

namespace ferry::demo {

namespace {

// Stable element ids for tests: #status (data-state: connecting, open, closed), #msg,
// #send, #reconnect, #log (li.sent / li.echo / li.info, the message in .text).
constexpr std::string_view page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ferry demo: WebSocket echo</title>
<style>
  :root { --ink: #1d2430; --muted: #6b7585; --line: #dfe3ea; --accent: #1f6feb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--ink);
         background: #f5f7fa; }
  main { max-width: 42rem; margin: 3rem auto; padding: 0 1rem; }
  h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
  p { color: var(--muted); margin: 0 0 1.5rem; }
  code { font-size: .9em; background: #eaeef3; padding: .1em .3em; border-radius: 4px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 10px;
          padding: 1rem; }
  .bar { display: flex; align-items: center; gap: .5rem; margin-bottom: 1rem;
         font-size: .9rem; color: var(--muted); }
  #status { padding: .1rem .6rem; border-radius: 999px; background: #eef1f5;
            color: var(--ink); }
  #status[data-state=open] { background: #dcf5e3; color: #116329; }
  #status[data-state=closed] { background: #fde2e1; color: #a40e26; }
  form { display: flex; gap: .5rem; }
  input { flex: 1; padding: .55rem .7rem; font: inherit; border: 1px solid var(--line);
          border-radius: 8px; }
  button { padding: .55rem 1rem; font: inherit; border: 0; border-radius: 8px;
           background: var(--accent); color: #fff; cursor: pointer; }
  button:disabled { background: #9db7e0; cursor: default; }
  #reconnect { background: #eef1f5; color: var(--ink); padding: .1rem .6rem; }
  #log { list-style: none; margin: 1rem 0 0; padding: 0; max-height: 22rem;
         overflow-y: auto; font-family: ui-monospace, monospace; font-size: .9rem; }
  #log li { display: flex; gap: .6rem; padding: .3rem 0; border-top: 1px solid var(--line); }
  #log .dir { width: 4.5rem; color: var(--muted); flex: none; }
  #log .text { flex: 1; white-space: pre-wrap; word-break: break-word; }
  #log .ms { color: var(--muted); }
  #log .echo .dir { color: #116329; }
  #log .info { color: var(--muted); }
</style>
</head>
<body>
<main>
  <h1>ferry demo: WebSocket echo</h1>
  <p>This page came over plain HTTP, and the WebSocket below goes to
     <code id="url"></code> on the same port: ferry upgrades that request and then
     carries its bytes both ways with <code>splice(2)</code>.</p>
  <div class="card">
    <div class="bar">
      <span id="status" data-state="connecting">connecting&hellip;</span>
      <button id="reconnect" type="button" hidden>reconnect</button>
    </div>
    <form id="form" autocomplete="off">
      <input id="msg" placeholder="Type a message" maxlength="100000" autofocus>
      <button id="send" type="submit" disabled>Send</button>
    </form>
    <ul id="log"></ul>
  </div>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/echo";
const sentAt = [];  // send times of the messages not yet echoed, oldest first
let socket = null;
$("url").textContent = url;

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text;
  $("send").disabled = state !== "open";
  $("reconnect").hidden = state !== "closed";
}

function addLine(kind, direction, text, note) {
  const li = document.createElement("li");
  li.className = kind;
  for (const [cls, value] of [["dir", direction], ["text", text], ["ms", note]]) {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = value;
    li.append(span);
  }
  $("log").append(li);
  $("log").scrollTop = $("log").scrollHeight;
}

function connect() {
  setStatus("connecting", "connecting\u2026");
  socket = new WebSocket(url);
  socket.onopen = () => setStatus("open", "connected");
  socket.onmessage = (event) => {
    const started = sentAt.shift();
    const ms = started === undefined ? "" : (performance.now() - started).toFixed(1) + " ms";
    addLine("echo", "echoed", event.data, ms);
  };
  socket.onclose = (event) => {
    sentAt.length = 0;
    setStatus("closed", "closed (" + event.code + ")");
    addLine("info", "", "connection closed, code " + event.code, "");
  };
}

$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("msg").value;
  if (text === "" || !socket || socket.readyState !== WebSocket.OPEN) return;
  sentAt.push(performance.now());
  socket.send(text);
  addLine("sent", "sent", text, "");
  $("msg").value = "";
  $("msg").focus();
});
$("reconnect").addEventListener("click", connect);
connect();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view demo_page() {
    return page;
}

}  // namespace ferry::demo
