// caddy-sse browser client: a dependency-free ES module served by the
// handler at <route>?client. It adds what EventSource lacks: a token sent
// as an Authorization header (fetch streaming, so tokens stay out of URLs),
// the topic of each event, reconnects with exponential backoff and jitter
// that honour the server's retry:, Last-Event-ID resume (optionally across
// page loads), and sse.reset / sse.close as callbacks of their own.
// With shared: true, the tabs of an origin that subscribe to the same
// route and topics share one stream: a Web Lock elects the tab that holds
// it and a BroadcastChannel hands its events to the others. TypeScript
// declarations are served beside it, at <route>?client=d.ts.
//
//   import { SSEClient } from "/events?client";
//   const client = new SSEClient("/events", { topics: ["news"], token });
//   client.on("message", (ev) => console.log(ev.topic, ev.id, ev.data));
//   client.close();

/** Connection states, reported to onState listeners. */
export const CONNECTING = "connecting";
export const OPEN = "open";
export const RECONNECTING = "reconnecting";
export const CLOSED = "closed";

// Statuses worth retrying; any other non-200 answer is final (bad topic,
// missing grant, wrong token), since retrying would get the same answer.
const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

// How many recent events a client remembers, to drop repeats (far more
// than a handover repeats) and to hand a tab that joins what it missed.
// A byte bound (of data, in UTF-16 units) keeps large events from holding
// much memory.
const RECENT_EVENTS = 1000;
const RECENT_BYTES = 1 << 20;

/**
 * An event as the client hands it to listeners.
 * @typedef {{type: string, id: string, data: string, topic: string,
 *            topics: string[], json: () => any}} SSEEvent
 */

export class SSEClient {
  /**
   * @param {string} url the route, e.g. "/events"
   * @param {object} [options]
   * @param {string[]|string} options.topics selectors to subscribe to
   * @param {string|(() => string|Promise<string>)} [options.token] bearer
   *   token, or a function called on every (re)connect so it can refresh it
   * @param {string} [options.lastEventId] resume after this id
   * @param {boolean|string} [options.persist] keep the last event id in
   *   localStorage (under this key, or a key made of url and topics) and
   *   resume from it on the next page load
   * @param {number} [options.replay] on first connect, the last N events
   * @param {number} [options.retry] first reconnect delay in ms until the
   *   server sends retry: (default 1000)
   * @param {number} [options.maxRetry] backoff ceiling in ms (default 30000)
   * @param {Record<string,string>} [options.headers] extra request headers
   * @param {RequestCredentials} [options.credentials] fetch credentials
   *   (default "same-origin")
   * @param {boolean|string} [options.shared] share one stream with the
   *   other tabs of this origin that use the same key (this string, or a
   *   key made of url and topics)
   * @param {boolean} [options.presence] open the stream with presence=on
   *   (onPresence turns it on by itself)
   */
  constructor(url, options = {}) {
    this.url = url;
    this.options = options;
    this.topics = [].concat(options.topics || []);
    if (this.topics.length === 0) throw new Error("SSEClient: no topics");
    this._listeners = new Map(); // type -> Set of functions; "*" is every event
    this._hooks = { state: new Set(), reset: new Set(), close: new Set(), error: new Set() };
    this._persistKey = options.persist
      ? typeof options.persist === "string"
        ? options.persist
        : "caddy-sse:last-event-id:" + url + ":" + [...this.topics].sort().join(",")
      : null;
    this._presenceOn = !!options.presence;
    // topic -> {fns, members (identities), loaded, pending events, fetch
    // generation}; the member list of each topic followed with onPresence.
    this._presence = new Map();
    this._lastEventId = options.lastEventId || this._loadPersisted() || "";
    this._serverRetry = null;
    this._failures = 0;
    this._state = CONNECTING;
    this._closed = false;
    this._suspended = false; // between pagehide and pageshow
    this._abort = null;
    this._timer = null;
    // Each start of a connection loop takes a new generation; a loop that
    // sees a newer one was stopped (close, pagehide, lost leadership) and
    // must not touch the client again.
    this._gen = 0;
    this._role = null;
    this._group = null; // while in a shared group
    this._memberId = Math.random().toString(36).slice(2) + Date.now().toString(36);
    // The last events delivered, by id: a tab that takes over the shared
    // stream resumes from the last id it saw, and may get again what the
    // other tabs already have; a leader hands a tab that joins (or comes
    // back from the back/forward cache) what it missed.
    this._seen = new Set();
    this._recent = [];
    this._recentBytes = 0;
    this._onPageHide = () => this._suspend();
    this._onPageShow = () => this._resume();
    if (globalThis.addEventListener) {
      globalThis.addEventListener("pagehide", this._onPageHide);
      globalThis.addEventListener("pageshow", this._onPageShow);
    }
    if (options.onEvent) this.on("*", options.onEvent);
    if (options.onState) this.onState(options.onState);
    if (options.onReset) this.onReset(options.onReset);
    if (options.onClose) this.onClose(options.onClose);
    if (options.onError) this.onError(options.onError);
    // Connect once the caller had a chance to add listeners.
    queueMicrotask(() => this._start());
  }

  /** The connection state: connecting, open, reconnecting or closed. */
  get state() { return this._state; }

  /** The id of the last event received, sent as Last-Event-ID on reconnect. */
  get lastEventId() { return this._lastEventId; }

  /**
   * How this client gets its events: "private" (a stream of its own),
   * "leader" (it holds the stream a shared group shares), "follower" (it
   * gets them from the leader tab), or null while closed or hidden.
   */
  get role() { return this._role; }

  /**
   * Listens to events of one type ("message" for untyped events, "*" for
   * all). Returns a function that removes the listener.
   * @param {string} type
   * @param {(ev: SSEEvent) => void} fn
   */
  on(type, fn) { return add(this._listeners, type, fn); }

  /** fn(state, detail) on every state change. Returns a remover. */
  onState(fn) { return addHook(this._hooks.state, fn); }

  /**
   * fn({id, reason}) when the server could not resume (sse.reset): the id
   * was too old or unknown, so the app should refetch its state.
   */
  onReset(fn) { return addHook(this._hooks.reset, fn); }

  /**
   * fn({reason, retry}) when the server ends the stream (sse.close):
   * reload, shutdown, capacity, token_expired, ... The client reconnects
   * by itself; on token_expired a token function is asked for a new one.
   */
  onClose(fn) { return addHook(this._hooks.close, fn); }

  /** fn({status, message, fatal}) on a failed connection attempt. */
  onError(fn) { return addHook(this._hooks.error, fn); }

  /** Ends the subscription for good. */
  close() {
    if (!this._closed) this._finish({ reason: "closed" });
  }

  _finish(detail) {
    this._closed = true;
    this._stop();
    if (globalThis.removeEventListener) {
      globalThis.removeEventListener("pagehide", this._onPageHide);
      globalThis.removeEventListener("pageshow", this._onPageShow);
    }
    this._setState(CLOSED, detail);
  }

  // The group a shared client joins: a stream with presence=on is not
  // one without, so the flag is part of the key.
  get _sharedKey() {
    const shared = this.options.shared;
    if (!shared) return null;
    const key = typeof shared === "string"
      ? shared
      : "caddy-sse:shared:" + absoluteURL(this.url) + ":" + [...this.topics].sort().join(",");
    return this._presenceOn ? key + ":presence" : key;
  }

  /**
   * Follows the members of one topic (SPEC §12; the route needs presence):
   * fn({topic, members, count}) with the identities on it, once the
   * member list is fetched (with the client's token) and on every join and
   * leave after. The stream asks for sse.join/sse.leave (presence=on);
   * turning that on for an open stream reconnects it, resuming from the
   * last id. The list is fetched again after every reconnect, as joins and
   * leaves are not replayed. Returns a function that stops following.
   * @param {string} topic an exact topic the client subscribes to
   * @param {(p: {topic: string, members: string[], count: number}) => void} fn
   */
  onPresence(topic, fn) {
    let p = this._presence.get(topic);
    if (!p) {
      p = { fns: new Set(), members: new Set(), loaded: false, pending: [], gen: 0 };
      this._presence.set(topic, p);
    }
    p.fns.add(fn);
    if (!this._presenceOn) {
      this._presenceOn = true;
      // Already connected without it: reconnect (or join the group of
      // presence streams) from the last id, losing nothing.
      if (this._role !== null && !this._closed && !this._suspended) {
        this._stop();
        this._start();
      }
    } else if (p.loaded) {
      safeCall(fn, presenceInfo(topic, p));
    } else if (this._state === OPEN && p.fns.size === 1) {
      this._fetchPresence(topic, p);
    }
    return () => {
      p.fns.delete(fn);
      if (p.fns.size === 0 && this._presence.get(topic) === p) this._presence.delete(topic);
    };
  }

  // _fetchPresence asks for a topic's members once the stream is open, so
  // that the answer includes every join the stream has not delivered; the
  // joins and leaves that arrive meanwhile are applied after it, in order.
  async _fetchPresence(topic, p) {
    const gen = ++p.gen;
    p.loaded = false;
    p.pending = [];
    try {
      const u = new URL(absoluteURL(this.url));
      u.searchParams.set("presence", topic);
      const res = await fetch(u.href, {
        headers: await this._authHeaders(),
        cache: "no-store",
        credentials: this.options.credentials || "same-origin",
      });
      if (!res.ok) throw Object.assign(new Error((await res.text().catch(() => "")).trim() || res.statusText), { status: res.status });
      const answer = await res.json();
      if (gen !== p.gen || this._presence.get(topic) !== p) return;
      p.members = new Set((answer.members || []).map((m) => m.identity));
      p.loaded = true;
      for (const ev of p.pending) applyPresence(p, ev);
      p.pending = [];
      for (const fn of [...p.fns]) safeCall(fn, presenceInfo(topic, p));
    } catch (err) {
      if (gen !== p.gen) return;
      this._emit(this._hooks.error, { status: err.status || 0, message: "presence of " + topic + ": " + String(err && err.message || err), fatal: false });
    }
  }

  // _presenceEvent applies an sse.join or sse.leave to its topic's list.
  _presenceEvent(msg) {
    let ev;
    try { ev = JSON.parse(msg.data); } catch { return; }
    const p = this._presence.get(ev.topic || msg.topics[0]);
    if (!p) return;
    ev.type = msg.type;
    if (!p.loaded) {
      p.pending.push(ev);
      return;
    }
    if (applyPresence(p, ev)) {
      const topic = ev.topic || msg.topics[0];
      for (const fn of [...p.fns]) safeCall(fn, presenceInfo(topic, p));
    }
  }

  async _authHeaders() {
    const headers = { ...(this.options.headers || {}) };
    let token = this.options.token;
    if (typeof token === "function") token = await token();
    if (token) headers.Authorization = "Bearer " + token;
    return headers;
  }

  _start() {
    if (this._closed || this._suspended) return;
    if (this._sharedKey && sharingSupported()) {
      this._join();
    } else {
      this._role = "private";
      this._connect(this._gen);
    }
  }

  // _stop ends the connection loop and leaves the shared group: the lock
  // goes to another tab at once.
  _stop() {
    this._gen++;
    clearTimeout(this._timer);
    if (this._abort) this._abort.abort();
    this._abort = null;
    const group = this._group;
    this._group = null;
    this._role = null;
    if (group) {
      group.lockAbort.abort();
      if (group.release) group.release();
      group.channel.close();
    }
  }

  // The back/forward cache keeps a hidden page alive, with its streams:
  // close them on pagehide (the server frees a stream, another tab takes
  // over a shared one, the page may enter the cache) and resume from the
  // last id on pageshow.
  _suspend() {
    if (this._closed || this._suspended) return;
    this._suspended = true;
    this._stop();
    this._setState(CLOSED, { reason: "pagehide" });
  }

  _resume() {
    if (this._closed || !this._suspended) return;
    this._suspended = false;
    this._failures = 0;
    this._setState(CONNECTING);
    this._start();
  }

  // _join enters the shared group of this key: every member queues for
  // the lock, and the one holding it holds the stream until it closes,
  // hides or its tab goes, when the browser hands the lock to the next.
  _join() {
    const name = this._sharedKey;
    const group = {
      channel: new BroadcastChannel(name),
      lockAbort: new AbortController(),
      release: null,
      // Until the leader's welcome, live events wait here, so that what it
      // hands over comes first and the order holds.
      pending: [],
      welcomed: false,
    };
    this._group = group;
    this._role = "follower";
    group.channel.onmessage = (e) => this._fromGroup(group, e.data);
    navigator.locks.request(name, { signal: group.lockAbort.signal }, () => {
      if (this._group !== group) return undefined; // left while queued
      return new Promise((resolve) => {
        group.release = resolve;
        this._role = "leader";
        this._welcome(group);
        this._setState(CONNECTING);
        this._connect(this._gen);
      });
    }).catch(() => { /* AbortError: left the queue */ });
    this._hello(group);
  }

  _hello(group) {
    group.channel.postMessage({ kind: "hello", from: this._memberId, after: this._lastEventId });
  }

  _welcome(group, events = [], found = true, id = "") {
    group.welcomed = true;
    // The leader's stream may have started but brought no event yet: its
    // start is where this tab resumes from if it takes over.
    if (found && this._lastEventId === "" && id) this._setLastId(id);
    for (const ev of events) this._deliver(ev);
    for (const ev of group.pending) this._deliver(ev);
    group.pending = [];
    if (!found) {
      // The leader no longer has what this tab missed: as for a resume id
      // the server does not know, the app should refetch its state.
      this._setLastId(id);
      this._emit(this._hooks.reset, { id, reason: "unknown_id" });
    }
  }

  // _missed returns the events after id that this leader still has, or
  // null when it has no such id.
  _missed(id) {
    if (id === "" || id === this._lastEventId) return [];
    const i = this._recent.findIndex((ev) => ev.id === id);
    return i < 0 ? null : this._recent.slice(i + 1);
  }

  // _fromGroup handles what the other members send: a new member says
  // hello with the last id it has, and the leader welcomes it with its
  // state and the events it missed.
  _fromGroup(group, msg) {
    if (this._group !== group || !msg) return;
    const follower = this._role === "follower";
    switch (msg.kind) {
      case "hello":
        if (this._role === "leader") {
          const missed = this._missed(msg.after);
          this._post({ kind: "welcome", to: msg.from, state: this._state, events: missed || [], found: missed !== null, id: this._lastEventId });
        }
        break;
      case "welcome":
        if (!follower || msg.to !== this._memberId || group.welcomed) break;
        this._setState(msg.state);
        this._welcome(group, msg.events, msg.found, msg.id);
        break;
      case "state":
        if (!follower) break;
        this._setState(msg.state, msg.detail);
        // A new leader, which did not answer while it was a follower.
        if (!group.welcomed && msg.state === CONNECTING) this._hello(group);
        break;
      case "start":
        // Only a tab that has no event yet: one that has events knows
        // where it is, and the leader resumes from its own last id.
        if (follower && this._lastEventId === "") this._setLastId(msg.id);
        break;
      case "event":
        if (group.welcomed) this._deliver(msg.event);
        else group.pending.push(msg.event);
        break;
      case "reset":
        if (!follower) break;
        if (msg.info.id) this._setLastId(msg.info.id);
        this._emit(this._hooks.reset, msg.info);
        break;
      case "close":
        if (follower) this._emit(this._hooks.close, msg.info);
        break;
      case "error":
        if (follower) this._emit(this._hooks.error, msg.info);
        break;
    }
  }

  // _post tells the other members what the leader's stream brought.
  _post(msg) {
    if (this._role === "leader" && this._group) this._group.channel.postMessage(msg);
  }

  _error(info) {
    this._emit(this._hooks.error, info);
    // A final answer is this tab's (its token, its grants): it gives up
    // the lock and the next tab tries with its own.
    if (!info.fatal) this._post({ kind: "error", info });
  }

  async _connect(gen) {
    if (gen !== this._gen) return;
    const abort = new AbortController();
    this._abort = abort;
    let opened = false;
    try {
      const headers = { Accept: "text/event-stream", ...(await this._authHeaders()) };
      if (this._lastEventId) headers["Last-Event-ID"] = this._lastEventId;
      if (gen !== this._gen) return;
      const res = await fetch(this._requestURL(), {
        headers,
        signal: abort.signal,
        cache: "no-store",
        credentials: this.options.credentials || "same-origin",
      });
      const type = res.headers.get("Content-Type") || "";
      if (!res.ok || !type.startsWith("text/event-stream")) {
        const message = (await res.text().catch(() => "")).trim() || res.statusText;
        if (gen !== this._gen) return;
        const fatal = !RETRY_STATUSES.has(res.status);
        this._error({ status: res.status, message, fatal });
        if (fatal) {
          this._finish({ status: res.status, message });
          return;
        }
      } else {
        opened = true;
        this._failures = 0;
        // Where the stream starts: a stream that ends before its first
        // event resumes from here, and misses nothing published meanwhile.
        const start = res.headers.get("Last-Event-ID");
        if (start) this._startAt(start);
        this._setState(OPEN);
        await this._read(res.body, gen);
      }
    } catch (err) {
      if (gen !== this._gen) return;
      this._error({ status: 0, message: String(err && err.message || err), fatal: false });
    }
    if (gen !== this._gen) return;
    this._reconnect(opened, gen);
  }

  _requestURL() {
    const u = new URL(absoluteURL(this.url));
    for (const t of this.topics) u.searchParams.append("topic", t);
    if (this._presenceOn) u.searchParams.set("presence", "on");
    if (this.options.replay && !this._lastEventId) u.searchParams.set("replay", String(this.options.replay));
    return u.href;
  }

  // Exponential backoff with jitter: the base is the server's retry: (or
  // the retry option), doubled after each failed attempt up to maxRetry;
  // the delay is drawn from [base/2, base] so clients spread out.
  _reconnect(wasOpen, gen) {
    const base = this._serverRetry ?? this.options.retry ?? 1000;
    const ceiling = Math.max(base, this.options.maxRetry ?? 30000);
    const delay = Math.min(ceiling, base * 2 ** this._failures);
    const wait = Math.round(delay / 2 + (Math.random() * delay) / 2);
    this._failures++;
    this._setState(RECONNECTING, { delay: wait, wasOpen });
    this._timer = setTimeout(() => {
      if (gen !== this._gen) return;
      this._setState(CONNECTING);
      this._connect(gen);
    }, wait);
  }

  // _read parses the event stream as the HTML standard says: lines end in
  // CRLF, LF or CR; a colon-first line is a comment; a blank line
  // dispatches; an event without data is not dispatched.
  async _read(body, gen) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    let first = true;
    let ev = newEvent();
    const line = (text) => {
      if (text === "") {
        if (gen !== this._gen) return;
        if (ev.hasData) this._dispatch(ev);
        else if (ev.id !== null) this._startAt(ev.id);
        ev = newEvent();
        return;
      }
      if (text[0] === ":") return;
      const colon = text.indexOf(":");
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? "" : text.slice(colon + 1);
      if (value[0] === " ") value = value.slice(1);
      switch (field) {
        case "event": ev.type = value; break;
        case "data": ev.data.push(value); ev.hasData = true; break;
        case "id": if (!value.includes("\0")) ev.id = value; break;
        case "topic": ev.topics.push(value); break;
        case "retry": if (/^\d+$/.test(value)) this._serverRetry = Number(value); break;
      }
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      if (first && buf.length > 0) {
        if (buf[0] === "\uFEFF") buf = buf.slice(1);
        first = false;
      }
      let start = 0;
      for (let i = 0; i < buf.length; i++) {
        const c = buf[i];
        if (c !== "\n" && c !== "\r") continue;
        if (c === "\r" && i === buf.length - 1) break; // maybe CRLF split across chunks
        line(buf.slice(start, i));
        if (c === "\r" && buf[i + 1] === "\n") i++;
        start = i + 1;
      }
      buf = buf.slice(start);
    }
  }

  _dispatch(raw) {
    const data = raw.data.join("\n");
    const type = raw.type || "message";
    if (type === "sse.reset" || type === "sse.close") {
      if (raw.id !== null) this._setLastId(raw.id);
      const reset = type === "sse.reset";
      const info = reset
        ? { id: this._lastEventId, reason: parseReason(data) }
        : { reason: parseReason(data), retry: this._serverRetry };
      this._emit(reset ? this._hooks.reset : this._hooks.close, info);
      this._post({ kind: reset ? "reset" : "close", info });
      return;
    }
    const msg = { type, id: raw.id, data, topics: raw.topics };
    if (this._deliver(msg)) this._post({ kind: "event", event: msg });
  }

  // _deliver hands an event to the listeners once: it reports false for an
  // id already delivered.
  _deliver(msg) {
    if (msg.id !== null) {
      if (this._seen.has(msg.id)) return false;
      this._seen.add(msg.id);
      this._recent.push(msg);
      this._recentBytes += msg.data.length;
      while (this._recent.length > RECENT_EVENTS || this._recentBytes > RECENT_BYTES) {
        const old = this._recent.shift();
        this._seen.delete(old.id);
        this._recentBytes -= old.data.length;
      }
      this._setLastId(msg.id);
    }
    if (msg.type === "sse.join" || msg.type === "sse.leave") this._presenceEvent(msg);
    const data = msg.data;
    const event = {
      type: msg.type,
      id: this._lastEventId,
      data,
      topics: msg.topics,
      topic: msg.topics[0] || "",
      json() { return JSON.parse(data); },
    };
    for (const key of [msg.type, "*"]) {
      const set = this._listeners.get(key);
      if (set) for (const fn of [...set]) safeCall(fn, event);
    }
    return true;
  }

  // _startAt takes the id a stream starts at (its opening id: field or
  // Last-Event-ID header) as the last id, and hands it to the followers,
  // so that whichever tab takes over resumes from it.
  _startAt(id) {
    this._setLastId(id);
    this._post({ kind: "start", id });
  }

  _setLastId(id) {
    this._lastEventId = id;
    this._savePersisted();
  }

  _setState(state, detail = {}) {
    const was = this._state;
    this._state = state;
    // Every (re)opened stream, this tab's or its leader's: joins and
    // leaves while it was down are not replayed, so fetch the lists again.
    if (state === OPEN && was !== OPEN) {
      for (const [topic, p] of this._presence) this._fetchPresence(topic, p);
    }
    this._emit(this._hooks.state, state, detail);
    // The followers show the leader's connection; a leader that closes
    // says nothing, as another tab takes over.
    if (state !== CLOSED) this._post({ kind: "state", state, detail });
  }

  _emit(set, ...args) {
    for (const fn of [...set]) safeCall(fn, ...args);
  }

  _loadPersisted() {
    if (!this._persistKey) return "";
    try { return globalThis.localStorage.getItem(this._persistKey) || ""; } catch { return ""; }
  }

  _savePersisted() {
    if (!this._persistKey) return;
    try { globalThis.localStorage.setItem(this._persistKey, this._lastEventId); } catch { /* storage full or off */ }
  }
}

/** subscribe(url, options) is new SSEClient(url, options). */
export function subscribe(url, options) {
  return new SSEClient(url, options);
}

// Sharing needs both; without either (an old browser, a worker without
// locks) the client keeps a stream of its own.
function sharingSupported() {
  return typeof BroadcastChannel === "function" &&
    typeof globalThis.navigator?.locks?.request === "function";
}

function absoluteURL(url) {
  return new URL(url, globalThis.location ? globalThis.location.href : undefined).href;
}

function newEvent() {
  return { type: "", id: null, data: [], topics: [], hasData: false };
}

// applyPresence applies a join or leave; it reports whether the list changed.
function applyPresence(p, ev) {
  if (!ev.identity) return false;
  const had = p.members.has(ev.identity);
  if (ev.type === "sse.join") p.members.add(ev.identity);
  else p.members.delete(ev.identity);
  return had !== p.members.has(ev.identity);
}

function presenceInfo(topic, p) {
  const members = [...p.members].sort();
  return { topic, members, count: members.length };
}

function parseReason(data) {
  try { return JSON.parse(data).reason || ""; } catch { return data; }
}

function add(map, key, fn) {
  if (!map.has(key)) map.set(key, new Set());
  map.get(key).add(fn);
  return () => map.get(key).delete(fn);
}

function addHook(set, fn) {
  set.add(fn);
  return () => set.delete(fn);
}

// A throwing listener must not break the stream or the other listeners.
function safeCall(fn, ...args) {
  try { fn(...args); } catch (err) { setTimeout(() => { throw err; }); }
}
