// Types of the caddy-sse browser client, served beside it at
// <route>?client=d.ts (Deno finds them by itself: the module's
// X-TypeScript-Types header points there). Save them in your app as
// caddy-sse-client.d.ts, then either copy the module beside them as
// caddy-sse-client.js, or keep loading it from the route:
//
//   type Client = typeof import("./caddy-sse-client");
//   const route: string = "/events?client"; // a string, not a module name, for tsc
//   const { SSEClient } = (await import(route)) as Client;

/** The connection state, as onState listeners and `state` report it. */
export type SSEState = "connecting" | "open" | "reconnecting" | "closed";

export declare const CONNECTING: "connecting";
export declare const OPEN: "open";
export declare const RECONNECTING: "reconnecting";
export declare const CLOSED: "closed";

/**
 * How a client gets its events: a stream of its own, the stream it holds
 * for its shared group, or the events the group's leader tab hands it;
 * null while closed or while the page is hidden (pagehide).
 */
export type SSERole = "private" | "leader" | "follower" | null;

/** An event as the client hands it to listeners. */
export interface SSEEvent {
  /** The event type: "message" when the server sent none. */
  type: string;
  /** The id of this event (or of the last one that had an id). */
  id: string;
  /** The data lines, joined with "\n". */
  data: string;
  /** The first topic of the event, or "" when it has none. */
  topic: string;
  /** Every topic of the event. */
  topics: string[];
  /** The data parsed as JSON; throws if it is not JSON. */
  json<T = any>(): T;
}

/** Why the server could not resume (sse.reset): refetch your state. */
export interface SSEResetInfo {
  /** The newest id of the hub, where the stream goes on from. */
  id: string;
  /** Why: "unknown_id" or "expired_id". */
  reason: string;
}

/** The server ended the stream (sse.close); the client reconnects by itself. */
export interface SSECloseInfo {
  /** Why: "reload", "shutdown", "capacity", "token_expired", … */
  reason: string;
  /** The server's retry: in ms, or null when it sent none. */
  retry: number | null;
}

/** A failed connection attempt. */
export interface SSEErrorInfo {
  /** The HTTP status, or 0 when the request itself failed. */
  status: number;
  /** The server's message, or the network error's. */
  message: string;
  /** True when the client gave up (400, 401, 403, …): it is closed now. */
  fatal: boolean;
}

/** What a state change tells besides the state. */
export interface SSEStateDetail {
  /** reconnecting: the delay in ms before the next attempt. */
  delay?: number;
  /** reconnecting: whether the stream had been open. */
  wasOpen?: boolean;
  /** closed: "closed" (close()) or "pagehide" (resumes on pageshow). */
  reason?: string;
  /** closed after a final answer: its status and message. */
  status?: number;
  message?: string;
}

export interface SSEClientOptions {
  /** The topic selectors to subscribe to (at least one). */
  topics: string[] | string;
  /**
   * A bearer token sent as an Authorization header, or a function asked
   * for one on every (re)connect.
   */
  token?: string | (() => string | Promise<string>);
  /** Resume after this id on the first connect. */
  lastEventId?: string;
  /**
   * Keep the last event id in localStorage (under this key, or one made of
   * url and topics) and resume from it on the next page load.
   */
  persist?: boolean | string;
  /** On the first connect without a resume id, the last N events. */
  replay?: number;
  /** The first reconnect delay in ms until the server sends retry: (default 1000). */
  retry?: number;
  /** The backoff ceiling in ms (default 30000). */
  maxRetry?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** fetch credentials (default "same-origin"). */
  credentials?: RequestCredentials;
  /**
   * Share one stream with the other tabs of this origin that use the same
   * key (this string, or one made of url and topics): one tab holds the
   * stream, the others get its events. Without Web Locks or
   * BroadcastChannel the client keeps a stream of its own.
   */
  shared?: boolean | string;
  /** Open the stream with presence=on (sse.join/sse.leave); onPresence turns it on by itself. */
  presence?: boolean;
  /** The same as on("*", fn). */
  onEvent?: (event: SSEEvent) => void;
  /** The same as onState(fn). */
  onState?: (state: SSEState, detail: SSEStateDetail) => void;
  /** The same as onReset(fn). */
  onReset?: (info: SSEResetInfo) => void;
  /** The same as onClose(fn). */
  onClose?: (info: SSECloseInfo) => void;
  /** The same as onError(fn). */
  onError?: (info: SSEErrorInfo) => void;
}

/** A topic's members, as onPresence reports them. */
export interface SSEPresence {
  /** The exact topic followed. */
  topic: string;
  /** The identities on it, sorted. */
  members: string[];
  /** How many members (identities, not streams). */
  count: number;
}

/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;

export declare class SSEClient {
  /** Subscribes at once (after the caller's synchronous code has added listeners). */
  constructor(url: string, options: SSEClientOptions);
  /** The route, as given. */
  readonly url: string;
  readonly options: SSEClientOptions;
  /** The topic selectors. */
  readonly topics: string[];
  /** The connection state (a follower reports its leader's). */
  readonly state: SSEState;
  /** The id of the last event received, sent as Last-Event-ID on reconnect. */
  readonly lastEventId: string;
  /** How this client gets its events. */
  readonly role: SSERole;
  /** Listens to events of one type ("message" for untyped events, "*" for all). */
  on(type: string, fn: (event: SSEEvent) => void): Unsubscribe;
  /** fn(state, detail) on every state change. */
  onState(fn: (state: SSEState, detail: SSEStateDetail) => void): Unsubscribe;
  /** fn(info) when the server could not resume (sse.reset). */
  onReset(fn: (info: SSEResetInfo) => void): Unsubscribe;
  /** fn(info) when the server ends the stream (sse.close). */
  onClose(fn: (info: SSECloseInfo) => void): Unsubscribe;
  /** fn(info) on a failed connection attempt. */
  onError(fn: (info: SSEErrorInfo) => void): Unsubscribe;
  /**
   * Follows the members of one exact topic (the route needs presence):
   * fn once the list is fetched with the client's token, and on every join
   * and leave after; the list is fetched again after every reconnect.
   * Opens the stream with presence=on (an open stream reconnects, resuming).
   */
  onPresence(topic: string, fn: (presence: SSEPresence) => void): Unsubscribe;
  /** Ends the subscription for good. */
  close(): void;
}

/** subscribe(url, options) is new SSEClient(url, options). */
export declare function subscribe(url: string, options: SSEClientOptions): SSEClient;
