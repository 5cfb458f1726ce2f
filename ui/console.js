// The caddy-sse console: subscribe, watch and publish events from a browser.
// It uses the same client an app would (<route>?client). Event data is only
// ever put into the page as text (textContent), never as HTML.
const { SSEClient } = await import(new URL("?client", import.meta.url).href);

const MAX_EVENTS = 1000;
const TOAST_MS = 5000;
const route = location.pathname;
const $ = (id) => document.getElementById(id);

const list = $("events");
const status = $("status");
let client = null;

function setStatus(state) {
  const text = { open: "connected", connecting: "connecting…", reconnecting: "reconnecting…", closed: "disconnected" };
  status.dataset.state = state;
  $("status-text").textContent = text[state] || state;
  $("connect").disabled = state !== "closed";
  $("disconnect").disabled = state === "closed";
}

// A level comes from the event type (info, warn, error) or a "level"
// field of JSON data.
function levelOf(type, json) {
  const level = String((json && typeof json === "object" && json.level) || type).toLowerCase();
  if (level === "warning") return "warn";
  return ["info", "warn", "error"].includes(level) ? level : "";
}

function parseJSON(data) {
  try { return { ok: true, value: JSON.parse(data) }; } catch { return { ok: false }; }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function addRow(ev, control) {
  const parsed = parseJSON(ev.data);
  const li = el("li", "event");
  const level = control ? "" : levelOf(ev.type, parsed.ok ? parsed.value : null);
  if (level) li.classList.add("level-" + level);
  if (control) li.classList.add("control");
  li.dataset.type = ev.type;
  const meta = el("div", "meta");
  const time = el("time", "", new Date().toLocaleTimeString());
  time.dateTime = new Date().toISOString();
  meta.append(time, el("span", "type", ev.type));
  if (ev.id) meta.append(el("span", "id", "id " + ev.id));
  if (ev.topics && ev.topics.length) meta.append(el("span", "topic", ev.topics.join(" ")));
  li.append(meta, el("pre", "data", parsed.ok ? JSON.stringify(parsed.value, null, 2) : ev.data));
  const stick = $("autoscroll").checked;
  list.append(li);
  while (list.childElementCount > MAX_EVENTS) list.firstElementChild.remove();
  $("count").textContent = String(list.childElementCount);
  if (stick) list.scrollTop = list.scrollHeight;
}

function toast(ev) {
  const parsed = parseJSON(ev.data);
  const v = parsed.ok && parsed.value && typeof parsed.value === "object" ? parsed.value : null;
  const node = el("button", "toast");
  node.type = "button";
  node.setAttribute("aria-label", "Notification, click to dismiss");
  const title = v && (v.title || v.subject);
  if (title) node.append(el("strong", "", String(title)));
  node.append(el("span", "", v ? String(v.message ?? v.body ?? v.text ?? JSON.stringify(v)) : ev.data));
  const dismiss = () => { clearTimeout(timer); node.remove(); };
  const timer = setTimeout(dismiss, TOAST_MS);
  node.addEventListener("click", dismiss);
  $("toasts").append(node);
}

function splitTopics(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

function connect() {
  if (client) client.close();
  const topics = splitTopics($("topics").value);
  if (topics.length === 0) return;
  const token = $("token").value.trim();
  client = new SSEClient(route, { topics, token: token || undefined });
  client.onState((state) => setStatus(state));
  client.on("*", (ev) => {
    addRow(ev, false);
    if (ev.type === "notification") toast(ev);
  });
  client.onReset((r) => addRow({ type: "sse.reset", id: r.id, data: JSON.stringify({ reason: r.reason }) }, true));
  client.onClose((c) => addRow({ type: "sse.close", id: "", data: JSON.stringify({ reason: c.reason }) }, true));
  client.onError((e) => {
    if (e.status) addRow({ type: "error", id: "", data: `${e.status}: ${e.message}` }, true);
  });
  setStatus("connecting");
  history.replaceState(null, "", "#topics=" + encodeURIComponent(topics.join(",")));
}

$("subscribe").addEventListener("submit", (e) => { e.preventDefault(); connect(); });
$("disconnect").addEventListener("click", () => { if (client) client.close(); client = null; setStatus("closed"); });
$("clear").addEventListener("click", () => { list.replaceChildren(); $("count").textContent = "0"; });

$("publish").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("pub-result");
  const form = new URLSearchParams();
  for (const t of splitTopics($("pub-topic").value)) form.append("topic", t);
  const type = $("pub-event").value.trim();
  if (type) form.set("event", type);
  form.set("data", $("pub-data").value);
  const headers = { "Content-Type": "application/x-www-form-urlencoded" };
  const token = $("pub-token").value.trim();
  if (token) headers.Authorization = "Bearer " + token;
  out.classList.remove("error");
  out.textContent = "publishing…";
  try {
    const res = await fetch(route, { method: "POST", headers, body: form, cache: "no-store" });
    const text = (await res.text()).trim();
    out.classList.toggle("error", !res.ok);
    out.textContent = res.ok ? "published, id " + text : `${res.status}: ${text}`;
  } catch (err) {
    out.classList.add("error");
    out.textContent = "failed: " + err.message;
  }
});

// #topics=a,b in the address fills the topics and connects at once.
const hash = new URLSearchParams(location.hash.slice(1));
if (hash.get("topics")) {
  $("topics").value = splitTopics(hash.get("topics")).join(" ");
  connect();
}
document.body.dataset.ready = "true";
