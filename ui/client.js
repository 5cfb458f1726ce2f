// caddy-sse browser client: a dependency-free ES module served by the
// handler at <route>?client. It adds what EventSource lacks: a token sent
// as an Authorization header (fetch streaming, so tokens stay out of URLs),
// the topic of each event, reconnects with exponential backoff and jitter
// that honour the server's retry:, Last-Event-ID resume (optionally across
// page loads), and sse.reset / sse.close as callbacks of their own.
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
    this._lastEventId = options.lastEventId || this._loadPersisted() || "";
    this._serverRetry = null;
    this._failures = 0;
    this._state = CONNECTING;
    this._closed = false;
    this._abort = null;
    this._timer = null;
    if (options.onEvent) this.on("*", options.onEvent);
    if (options.onState) this.onState(options.onState);
    if (options.onReset) this.onReset(options.onReset);
    if (options.onClose) this.onClose(options.onClose);
    if (options.onError) this.onError(options.onError);
    // Connect once the caller had a chance to add listeners.
    queueMicrotask(() => this._connect());
  }

  /** The connection state: connecting, open, reconnecting or closed. */
  get state() { return this._state; }

  /** The id of the last event received, sent as Last-Event-ID on reconnect. */
  get lastEventId() { return this._lastEventId; }

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
    if (this._closed) return;
    this._closed = true;
    clearTimeout(this._timer);
    if (this._abort) this._abort.abort();
    this._setState(CLOSED, { reason: "closed" });
  }

  async _connect() {
    if (this._closed) return;
    const abort = new AbortController();
    this._abort = abort;
    let opened = false;
    try {
      const headers = { Accept: "text/event-stream", ...(this.options.headers || {}) };
      let token = this.options.token;
      if (typeof token === "function") token = await token();
      if (token) headers.Authorization = "Bearer " + token;
      if (this._lastEventId) headers["Last-Event-ID"] = this._lastEventId;
      const res = await fetch(this._requestURL(), {
        headers,
        signal: abort.signal,
        cache: "no-store",
        credentials: this.options.credentials || "same-origin",
      });
      const type = res.headers.get("Content-Type") || "";
      if (!res.ok || !type.startsWith("text/event-stream")) {
        const message = (await res.text().catch(() => "")).trim() || res.statusText;
        const fatal = !RETRY_STATUSES.has(res.status);
        this._emit(this._hooks.error, { status: res.status, message, fatal });
        if (fatal) {
          this._closed = true;
          this._setState(CLOSED, { status: res.status, message });
          return;
        }
      } else {
        opened = true;
        this._failures = 0;
        this._setState(OPEN);
        await this._read(res.body);
      }
    } catch (err) {
      if (this._closed) return;
      this._emit(this._hooks.error, { status: 0, message: String(err && err.message || err), fatal: false });
    }
    if (this._closed) return;
    this._reconnect(opened);
  }

  _requestURL() {
    const u = new URL(this.url, globalThis.location ? globalThis.location.href : undefined);
    for (const t of this.topics) u.searchParams.append("topic", t);
    if (this.options.replay && !this._lastEventId) u.searchParams.set("replay", String(this.options.replay));
    return u.href;
  }

  // Exponential backoff with jitter: the base is the server's retry: (or
  // the retry option), doubled after each failed attempt up to maxRetry;
  // the delay is drawn from [base/2, base] so clients spread out.
  _reconnect(wasOpen) {
    const base = this._serverRetry ?? this.options.retry ?? 1000;
    const ceiling = Math.max(base, this.options.maxRetry ?? 30000);
    const delay = Math.min(ceiling, base * 2 ** this._failures);
    const wait = Math.round(delay / 2 + (Math.random() * delay) / 2);
    this._failures++;
    this._setState(RECONNECTING, { delay: wait, wasOpen });
    this._timer = setTimeout(() => {
      if (this._closed) return;
      this._setState(CONNECTING);
      this._connect();
    }, wait);
  }

  // _read parses the event stream as the HTML standard says: lines end in
  // CRLF, LF or CR; a colon-first line is a comment; a blank line
  // dispatches; an event without data is not dispatched.
  async _read(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    let first = true;
    let ev = newEvent();
    const line = (text) => {
      if (text === "") {
        if (ev.hasData) this._dispatch(ev);
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
    if (raw.id !== null) {
      this._lastEventId = raw.id;
      this._savePersisted();
    }
    const data = raw.data.join("\n");
    const type = raw.type || "message";
    if (type === "sse.reset") {
      this._emit(this._hooks.reset, { id: this._lastEventId, reason: parseReason(data) });
      return;
    }
    if (type === "sse.close") {
      this._emit(this._hooks.close, { reason: parseReason(data), retry: this._serverRetry });
      return;
    }
    const event = {
      type,
      id: this._lastEventId,
      data,
      topics: raw.topics,
      topic: raw.topics[0] || "",
      json() { return JSON.parse(data); },
    };
    for (const key of [type, "*"]) {
      const set = this._listeners.get(key);
      if (set) for (const fn of [...set]) safeCall(fn, event);
    }
  }

  _setState(state, detail = {}) {
    this._state = state;
    this._emit(this._hooks.state, state, detail);
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

function newEvent() {
  return { type: "", id: null, data: [], topics: [], hasData: false };
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
