// The caddy-sse console: watch, subscribe and publish events from a browser.
// It uses the same client an app would (<route>?client). Event data is only
// ever put into the page as text (textContent), never as HTML.
const { SSEClient } = await import(new URL("?client", import.meta.url).href);

const MAX_EVENTS = 1000;
const TOAST_MS = 5000;
const COUNTS_MS = 3000;
const route = location.pathname;
const $ = (id) => document.getElementById(id);

const list = $("events");
const status = $("status");
let client = null;
let subscribed = []; // the topics of the current subscription

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setStatus(state, text) {
  const texts = { open: "connected", connecting: "connecting…", reconnecting: "reconnecting…", closed: "disconnected", refused: "refused" };
  status.dataset.state = state;
  $("status-text").textContent = text || texts[state] || state;
  $("connect").disabled = state !== "closed" && state !== "refused";
  $("disconnect").disabled = state === "closed" || state === "refused";
}

// The console's own connection trouble goes in a banner (role=alert),
// styled apart from every event, and stays until the stream opens again.
function showConnError(text) {
  const banner = $("conn-error");
  banner.textContent = text;
  banner.hidden = !text;
}

// A level comes from a JSON "level" field, else from the event type or its
// last dotted part (log.error → error). Plain "error" works here, but
// EventSource hands an event of that type to onerror, hence log.error.
const LEVELS = {
  error: "error", err: "error", fatal: "error", critical: "error", crit: "error", alert: "error", emerg: "error", panic: "error",
  warn: "warn", warning: "warn", info: "info", notice: "info", debug: "debug", trace: "debug",
};

function levelOf(type, json) {
  const field = json && typeof json === "object" && typeof json.level === "string" ? json.level : "";
  const name = String(field || type).toLowerCase();
  return LEVELS[name] || LEVELS[name.slice(name.lastIndexOf(".") + 1)] || "";
}

function parseJSON(data) {
  try { return { ok: true, value: JSON.parse(data) }; } catch { return { ok: false }; }
}

function clockTime(d) {
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// addRow appends one row. kind is "event" for what the server sent, or
// "sys"/"sys-error" for the console's own notes, tagged "console".
function addRow(ev, kind = "event") {
  const parsed = parseJSON(ev.data);
  const li = el("li", "event");
  li.dataset.type = ev.type;
  let levelText;
  if (kind === "event") {
    const level = levelOf(ev.type, parsed.ok ? parsed.value : null);
    if (level) li.classList.add("level-" + level);
    li.dataset.level = level;
    levelText = level;
  } else {
    li.classList.add("sys");
    if (kind === "sys-error") li.classList.add("sys-error");
    levelText = "console";
  }
  const now = new Date();
  const time = el("time", "", clockTime(now));
  time.dateTime = now.toISOString();
  time.title = "received " + now.toLocaleString();
  const meta = el("div", "meta");
  meta.append(el("span", "type", ev.type));
  if (ev.topics && ev.topics.length) meta.append(el("span", "topic", ev.topics.join(" ")));
  if (ev.id) meta.append(el("span", "id", "id " + ev.id));
  li.append(el("span", "sr", "received "), time, el("span", "level", levelText), meta,
    el("pre", "data", parsed.ok ? JSON.stringify(parsed.value, null, 2) : ev.data));
  const stick = $("autoscroll").checked;
  list.append(li);
  while (list.childElementCount > MAX_EVENTS) list.firstElementChild.remove();
  listChanged();
  if (stick) list.scrollTop = list.scrollHeight;
}

function listChanged() {
  $("count").textContent = String(list.childElementCount);
  $("empty").hidden = list.childElementCount > 0;
}

// The empty state says what to do next: subscribe, or publish to a topic
// the page listens to (a selector's wildcards made concrete).
function updateEmpty() {
  const curl = $("empty-curl");
  if (subscribed.length === 0) {
    $("empty-title").textContent = "No events yet.";
    $("empty-help").replaceChildren("Enter topics under Subscribe and press Connect, or open this page with ",
      el("code", "", "#topics=news"), " at the end of its address.");
    curl.hidden = true;
    return;
  }
  const topic = subscribed[0].replace(/\*\*?/g, "test");
  const arg = /^[\w.~/-]+$/.test(topic) ? "topic=" + topic : `'topic=${topic.replaceAll("'", "'\\''")}'`;
  $("empty-title").textContent = "Listening to " + subscribed.join(", ") + ". No events yet.";
  $("empty-help").replaceChildren("Publish one from a terminal (add ",
    el("code", "", "-H \"Authorization: Bearer $TOKEN\""), " if the route wants a token), or with the Publish form:");
  curl.textContent = `curl -d ${arg} -d event=log.info -d data=hello ${location.origin}${route}`;
  curl.hidden = false;
  if (!$("pub-topic").value) $("pub-topic").value = topic;
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

function disconnect() {
  if (client) client.close();
  client = null;
  subscribed = [];
  showConnError("");
  setStatus("closed");
  updateEmpty();
}

function connect() {
  const topics = splitTopics($("topics").value);
  if (topics.length === 0) return;
  if (client) client.close();
  const token = $("token").value.trim();
  subscribed = topics;
  showConnError("");
  const c = new SSEClient(route, { topics, token: token || undefined });
  client = c;
  // A replaced client's late callbacks must not touch the page.
  const mine = (fn) => (...args) => { if (client === c) fn(...args); };
  c.onState(mine((state, detail) => {
    if (state === "open") {
      showConnError("");
      refreshCounts();
    } else if (state === "reconnecting") {
      showConnError(`Connection lost; reconnecting in ${(detail.delay / 1000).toFixed(1)} s.`);
    } else if (state === "closed" && detail.status) {
      setStatus("refused", `refused (${detail.status})`);
      return;
    }
    setStatus(state);
  }));
  c.on("*", mine((ev) => {
    addRow(ev);
    if (ev.type === "notification") toast(ev);
  }));
  c.onReset(mine((r) => addRow({ type: "sse.reset", id: r.id, data: JSON.stringify({ reason: r.reason }) }, "sys")));
  c.onClose(mine((e) => addRow({ type: "sse.close", id: "", data: JSON.stringify({ reason: e.reason }) }, "sys")));
  c.onError(mine((e) => {
    let text;
    if (e.fatal) {
      const hint = e.status === 401 || e.status === 403 ? " Check the token and the route's subscribe grants." : "";
      text = `Subscription refused (${e.status}): ${e.message}.${hint}`;
    } else {
      text = `Stream failed${e.status ? ` (${e.status})` : ""}: ${e.message}.`;
    }
    showConnError(text);
    addRow({ type: e.fatal ? "subscription refused" : "stream failed", id: "", data: text }, "sys-error");
  }));
  setStatus("connecting");
  updateEmpty();
  history.replaceState(null, "", "#topics=" + encodeURIComponent(topics.join(",")));
}

// The hub's counts are shown to whoever may see them (a grant covering
// every topic); a refusal hides them until the next connect.
let countsTimer = null;
let countsRound = 0; // only the newest round schedules the next
async function refreshCounts() {
  clearTimeout(countsTimer);
  const round = ++countsRound;
  const headers = {};
  const token = $("token").value.trim();
  if (token) headers.Authorization = "Bearer " + token;
  const box = $("hub-counts");
  try {
    const res = await fetch(route + "?ui=counts", { headers, cache: "no-store" });
    if (round !== countsRound) return;
    if (!res.ok) {
      box.hidden = true;
      return;
    }
    const n = await res.json();
    if (round !== countsRound) return;
    const plural = (k, word) => `${k} ${word}${k === 1 ? "" : "s"}`;
    box.textContent = `hub: ${plural(n.subscribers, "subscriber")} · ${plural(n.topics, "topic")}`;
    box.hidden = false;
  } catch { /* offline: try again later */ }
  if (round !== countsRound) return;
  countsTimer = setTimeout(refreshCounts, COUNTS_MS);
}
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && !$("hub-counts").hidden) refreshCounts();
  else clearTimeout(countsTimer);
});

$("subscribe").addEventListener("submit", (e) => { e.preventDefault(); connect(); });
$("disconnect").addEventListener("click", disconnect);
$("clear").addEventListener("click", () => { list.replaceChildren(); listChanged(); });

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

// #topics=a,b in the address fills the topics and connects, at load and
// whenever the address changes to other topics.
function followHash() {
  const topics = splitTopics(new URLSearchParams(location.hash.slice(1)).get("topics") || "");
  if (topics.length === 0 || (client && topics.join(",") === subscribed.join(","))) return;
  $("topics").value = topics.join(" ");
  connect();
}
window.addEventListener("hashchange", followHash);
updateEmpty();
listChanged();
followHash();
refreshCounts();
document.body.dataset.ready = "true";
