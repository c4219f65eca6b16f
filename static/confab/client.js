// @ts-check
// The one connection of a tab to /ws/chat/.
//
// Owns: connecting with the session cookie, reconnecting with exponential
// backoff and full jitter, the visible connection state, request/ack
// promises with timeouts, heartbeats (`ping`), `sync` after every
// (re)connect, and the outbox: messages the user sent that the server has
// not acknowledged yet. The outbox lives in sessionStorage too, so a reload
// or a dropped socket loses nothing, and every resend carries the same
// `client_id`, so the server stores each message once.
//
// The UI subscribes with `on(type, handler)`: server events by their type,
// plus the client's own: `state`, `ready`, `synced`, `outbox`, `sent`, `failed`.

const DEFAULTS = {
  requestTimeout: 10000,
  pingInterval: 20000,
  backoffBase: 500,
  backoffMax: 15000,
  storage: typeof sessionStorage === "undefined" ? null : sessionStorage,
};

// Errors worth retrying: the message may still go through later.
const MAX_SYNC_ROUNDS = 20;

/**
 * The rooms whose server `last_seq` is past what the client holds, as sync positions.
 * @param {Record<string, number>} serverSeqs room id -> last_seq (a ping ack's `rooms`)
 * @param {Map<string, number>} held room id -> the last seq the UI holds
 * @returns {Record<string, number>}
 */
export function roomsBehind(serverSeqs, held) {
  /** @type {Record<string, number>} */
  const behind = {};
  for (const [room, lastSeq] of Object.entries(serverSeqs)) {
    if (held.has(room) && lastSeq > held.get(room)) behind[room] = held.get(room);
  }
  return behind;
}

const TRANSIENT = new Set(["timeout", "disconnected", "offline", "rate_limited", "server_error", "unavailable"]);

export class RequestError extends Error {
  constructor(code, message, data = {}) {
    super(message || code);
    this.code = code;
    this.data = data;
  }
}

export function uuid4() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Full-jitter backoff: a random delay up to base * 2^attempt, capped. */
export function backoffDelay(attempt, base, max) {
  const ceiling = Math.min(max, base * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export class ConfabClient {
  /**
   * @param {{url?: string, userId?: number|null, serverTime?: string|null, requestTimeout?: number, pingInterval?: number,
   *   backoffBase?: number, backoffMax?: number, storage?: Storage|null}} [options]
   */
  constructor({ url = "", userId = null, serverTime = null, ...options } = {}) {
    this.url = url || defaultSocketUrl("/ws/chat/");
    this.options = { ...DEFAULTS, ...options };
    this.storageKey = `confab.outbox.${userId ?? "anon"}`;
    this.state = "connecting";
    this.socket = null;
    this.handlers = new Map();
    this.pending = new Map(); // request id -> {resolve, reject, timer}
    this.lastSeq = new Map(); // room id -> highest seq the UI holds without gaps
    this.outbox = this._loadOutbox();
    this.attempt = 0;
    this.requestCounter = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.flushing = false;
    this.stopped = false;
    this.ready = null;
    this.sessionsSeen = 0;
    this.serverTime = serverTime; // of the page render, then the last `ready` or `sync`: passed as `since` to recover changes

    if (typeof window !== "undefined") {
      window.addEventListener("online", () => this.reconnectNow());
      window.addEventListener("offline", () => this._dropConnection("offline"));
      document.addEventListener("visibilitychange", () => {
        if (!document.hidden && this.state === "offline") this.reconnectNow();
      });
    }
  }

  // --- Subscription -------------------------------------------------------

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type)?.delete(handler);
  }

  emit(type, data) {
    for (const handler of [...(this.handlers.get(type) || []), ...(this.handlers.get("*") || [])]) {
      try {
        handler(data, type);
      } catch (error) {
        console.error(`confab: handler for ${type} failed`, error);
      }
    }
  }

  // --- Connection ---------------------------------------------------------

  connect() {
    this.stopped = false;
    clearTimeout(this.reconnectTimer);
    if (this.socket && (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING)) {
      return; // one socket per tab
    }
    if (typeof navigator !== "undefined" && navigator.onLine === false) {
      // No network: wait for the browser's `online` event, probing now and then in case it never comes.
      this._setState("offline");
      this.reconnectTimer = setTimeout(() => this.connect(), this.options.backoffMax);
      return;
    }
    this._setState("connecting");
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this._scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      if (socket === this.socket) this._onFrame(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this._onClosed(event.code);
    });
    socket.addEventListener("error", () => {
      // A close event follows; nothing else to do.
    });
  }

  /** Reconnect at once (the network came back, the tab became visible, the user asked). */
  reconnectNow() {
    if (this.stopped) return;
    if (this.socket && (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING))
      return;
    this.attempt = 0;
    this.connect();
  }

  close() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this._dropConnection("closed");
  }

  _dropConnection(reason) {
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      try {
        socket.close(1000, reason);
      } catch (error) {
        /* already closing */
      }
    }
    this._onClosed(reason === "offline" ? "offline" : 1000);
  }

  _onClosed(code) {
    clearInterval(this.pingTimer);
    this.ready = null;
    for (const [id, request] of this.pending) {
      clearTimeout(request.timer);
      request.reject(new RequestError("disconnected", "The connection was lost."));
      this.pending.delete(id);
    }
    if (code === 4401) {
      // The session ended: sign in again.
      this._setState("offline");
      this.emit("unauthenticated", {});
      return;
    }
    if (this.stopped) {
      this._setState("offline");
      return;
    }
    if (code === "offline" || (typeof navigator !== "undefined" && navigator.onLine === false)) {
      // Wait for the browser's `online` event; a slow probe covers browsers that never send it.
      this._setState("offline");
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => this.connect(), this.options.backoffMax);
      return;
    }
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    this._setState("offline");
    const delay = backoffDelay(this.attempt, this.options.backoffBase, this.options.backoffMax);
    this.attempt += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.emit("reconnecting", { delay, attempt: this.attempt });
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  _onFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (error) {
      return;
    }
    const { type, id, data } = frame;
    if ((type === "ack" || type === "error") && id && this.pending.has(id)) {
      const request = this.pending.get(id);
      this.pending.delete(id);
      clearTimeout(request.timer);
      if (type === "ack") request.resolve(data || {});
      else request.reject(new RequestError(data?.code || "server_error", data?.message, data || {}));
      return;
    }
    if (type === "ready") {
      this._onReady(data);
      return;
    }
    if (type === "resync") {
      // The server may have lost events for us (its pub/sub connection was restored): catch up.
      this.sync();
      return;
    }
    this.emit(type, data || {});
  }

  async _onReady(data) {
    this.ready = data;
    // The first `ready` sets where changes are counted from; later syncs keep their own server_time.
    if (!this.serverTime && data.server_time) this.serverTime = data.server_time;
    this.attempt = 0;
    this.sessionsSeen += 1;
    this._setState("online");
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this._ping(), this.options.pingInterval);
    this.emit("ready", data);
    // Catch up first (what others sent while we were away), then resend ours.
    await this.sync();
    this.flushOutbox();
  }

  async _ping() {
    if (this.state !== "online") return;
    try {
      const answer = await this.request("ping", {}, { timeout: this.options.requestTimeout });
      // A room ahead of what we hold: something was missed (a lost publish), even if the room is quiet now.
      const behind = roomsBehind(answer.rooms || {}, this.lastSeq);
      if (Object.keys(behind).length) await this.sync(behind);
    } catch (error) {
      if (error.code === "timeout" && this.socket) {
        // Half-open connection: nothing comes back. Start over.
        this._dropConnection("ping timeout");
      }
    }
  }

  // --- Requests -----------------------------------------------------------

  /**
   * Send a request frame; resolves with the ack's data, rejects with a RequestError.
   * @param {string} type
   * @param {object} [data]
   * @param {{timeout?: number}} [options]
   * @returns {Promise<any>}
   */
  request(type, data = {}, { timeout = undefined } = {}) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN || this.state !== "online") {
      return Promise.reject(new RequestError("offline", "You are offline."));
    }
    this.requestCounter += 1;
    const id = `${type.slice(0, 20)}-${this.requestCounter}-${Math.random().toString(36).slice(2, 8)}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestError("timeout", "The server did not answer in time."));
      }, timeout ?? this.options.requestTimeout);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.socket.send(JSON.stringify({ type, id, data }));
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new RequestError("disconnected", "The connection was lost."));
      }
    });
  }

  /** Fire-and-forget frames (typing). Dropped when offline: they only matter now. */
  notify(type, data = {}) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.state === "online") {
      this.socket.send(JSON.stringify({ type, data }));
    }
  }

  // --- Sync ---------------------------------------------------------------

  /** The UI holds every message of `room` up to `seq`: sync resumes after it. */
  track(room, seq) {
    const key = String(room);
    if (!this.lastSeq.has(key) || seq > this.lastSeq.get(key)) this.lastSeq.set(key, seq);
  }

  untrack(room) {
    this.lastSeq.delete(String(room));
  }

  /** Ask for everything newer than what the UI holds; emits `synced` {room, messages, has_more}. */
  async sync(rooms, round) {
    const positions = rooms || Object.fromEntries(this.lastSeq);
    if (!Object.keys(positions).length) return;
    let result;
    const data = { rooms: positions };
    if (this.serverTime) data.since = this.serverTime; // also recover edits, deletes and reactions made meanwhile
    try {
      result = await this.request("sync", data, { timeout: 20000 });
    } catch (error) {
      if (error.code === "timeout") this._dropConnection("sync timeout");
      return;
    }
    if (result.server_time) this.serverTime = result.server_time;
    for (const [room, messages] of Object.entries(result.messages || {})) {
      this.emit("synced", {
        room: Number(room),
        messages,
        changed: result.changed?.[room] || [],
        has_more: Boolean(result.has_more?.[room]),
      });
    }
    for (const room of result.unknown_rooms || []) {
      this.untrack(room);
      this.emit("room_gone", { room });
    }
    // A room the answer cut says `has_more`: continue from where the UI now holds it (a bounded number of rounds).
    const more = Object.keys(result.has_more || {}).filter((room) => result.has_more[room]);
    if (more.length && (round ?? 0) < MAX_SYNC_ROUNDS) {
      await this.sync(Object.fromEntries(more.map((room) => [room, this.lastSeq.get(room) ?? positions[room]])), (round ?? 0) + 1);
    }
  }

  // --- Outbox -------------------------------------------------------------

  /**
   * Queue a message and send it as soon as the connection allows.
   * Returns the outbox entry (its client_id identifies the message until the server acks it).
   */
  sendMessage(room, { body = "", reply_to = null, attachments = [], kind = null, thread = null, also_to_room = false, meta = {} } = {}) {
    const entry = {
      client_id: uuid4(),
      room: Number(room),
      body,
      reply_to,
      attachments,
      kind,
      thread, // a reply in the thread of this root message (docs/protocol.md, Threads)
      also_to_room,
      meta,
      queued_at: new Date().toISOString(),
      status: "pending",
    };
    this.outbox.push(entry);
    this._saveOutbox();
    this.emit("outbox", { entry, action: "queued" });
    this.flushOutbox();
    return entry;
  }

  /** Drop a message that failed for good (the user chose to discard it). */
  discard(clientId) {
    const entry = this.outbox.find((item) => item.client_id === clientId);
    this.outbox = this.outbox.filter((item) => item.client_id !== clientId);
    this._saveOutbox();
    if (entry) this.emit("outbox", { entry, action: "discarded" });
  }

  /** Try a failed message again, with its original client_id. */
  retry(clientId) {
    const entry = this.outbox.find((item) => item.client_id === clientId);
    if (!entry) return;
    entry.status = "pending";
    this._saveOutbox();
    this.emit("outbox", { entry, action: "queued" });
    this.flushOutbox();
  }

  pendingFor(room) {
    return this.outbox.filter((entry) => entry.room === Number(room));
  }

  /** Send queued messages one at a time, in order; stops at the first transient failure. */
  async flushOutbox() {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.state === "online") {
        const entry = this.outbox.find((item) => item.status === "pending");
        if (!entry) break;
        const data = { room: entry.room, body: entry.body, client_id: entry.client_id };
        if (entry.reply_to) data.reply_to = entry.reply_to;
        if (entry.attachments?.length) data.attachments = entry.attachments;
        if (entry.kind) data.kind = entry.kind;
        if (entry.thread) data.thread = entry.thread;
        if (entry.thread && entry.also_to_room) data.also_to_room = true;
        try {
          const ack = await this.request("send_message", data);
          this.outbox = this.outbox.filter((item) => item.client_id !== entry.client_id);
          this._saveOutbox();
          this.emit("sent", { entry, message: ack.message });
        } catch (error) {
          if (error.code === "rate_limited") {
            const wait = Math.max(1, Number(error.data?.retry_after) || 1) * 1000;
            this.emit("outbox", { entry, action: "delayed", error });
            await new Promise((resolve) => setTimeout(resolve, wait));
            continue;
          }
          if (TRANSIENT.has(error.code)) {
            // Resent with the same client_id: after the next reconnect, or soon if the socket is still up.
            if (error.code !== "disconnected" && error.code !== "offline") {
              setTimeout(() => this.flushOutbox(), 2000);
            }
            break;
          }
          entry.status = "failed";
          entry.error = { code: error.code, message: error.message };
          this._saveOutbox();
          this.emit("failed", { entry, error });
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  _loadOutbox() {
    try {
      const raw = this.options.storage?.getItem(this.storageKey);
      const entries = raw ? JSON.parse(raw) : [];
      return Array.isArray(entries) ? entries.filter((entry) => entry && entry.client_id && entry.room) : [];
    } catch (error) {
      return [];
    }
  }

  _saveOutbox() {
    try {
      if (this.outbox.length) this.options.storage?.setItem(this.storageKey, JSON.stringify(this.outbox));
      else this.options.storage?.removeItem(this.storageKey);
    } catch (error) {
      /* storage full or disabled: the in-memory outbox still works */
    }
  }
}

export function defaultSocketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}
