// The console's only way to the server: the public GraphQL API, by POST for queries and mutations and
// over graphql-transport-ws (same endpoint, token in connection_init's payload) for subscriptions.
// Documents are the files under documents/, named after their operation.

const documents = new Map();

export class ApiError extends Error {
  constructor(message, { status = 0, errors = [] } = {}) {
    super(message);
    this.status = status;
    this.errors = errors;
  }

  get code() {
    return (this.errors[0] && this.errors[0].extensions && this.errors[0].extensions.code) || null;
  }
}

export class Api {
  constructor({ endpoint, assets, token }) {
    this.endpoint = endpoint;
    this.assets = assets;
    this.token = token;
    this.socket = null;
    this.subscriptions = new Map();
    this.nextId = 1;
    this.statusListeners = new Set();
    this.closed = false;
    this.retryDelay = 500;
  }

  async document(name) {
    if (!documents.has(name)) {
      documents.set(
        name,
        fetch(`${this.assets}/documents/${name}.graphql`, { credentials: "same-origin" }).then((response) => {
          if (!response.ok) throw new ApiError(`The console's document ${name} is missing (${response.status}).`);
          return response.text();
        })
      );
    }
    return documents.get(name);
  }

  /** { data, errors } of one operation; throws ApiError when there is no GraphQL answer at all. */
  async request(name, variables = {}) {
    const query = await this.document(name);
    let response;
    try {
      response = await fetch(this.endpoint, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          Accept: "application/graphql-response+json, application/json",
          "Content-Type": "application/json",
          Authorization: `Bearer ${this.token}`,
        },
        body: JSON.stringify({ query, variables, operationName: name }),
      });
    } catch (error) {
      throw new ApiError(`The server does not answer (${error.message}).`);
    }
    let body;
    try {
      body = await response.json();
    } catch (error) {
      throw new ApiError(`The server answered ${response.status} without GraphQL.`, { status: response.status });
    }
    const errors = body.errors || [];
    if (this.onUnauthenticated && errors.some((error) => error.extensions && error.extensions.code === "UNAUTHENTICATED")) {
      this.onUnauthenticated(errors[0].message);
    }
    return { data: body.data || null, errors, status: response.status };
  }

  /** Like request, but throws ApiError on any GraphQL error. */
  async data(name, variables = {}) {
    const { data, errors, status } = await this.request(name, variables);
    if (errors.length || !data) {
      throw new ApiError((errors[0] && errors[0].message) || "The request failed.", { status, errors });
    }
    return data;
  }

  onStatus(listener) {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  _status(state, detail = "") {
    for (const listener of this.statusListeners) listener(state, detail);
  }

  /** Starts a subscription; `handlers.start()` runs each time it (re)starts (after a reconnect the
   * server sends its snapshot again), `next(data)` per message, `error(message)` on a GraphQL error.
   * Returns a function that stops it. */
  subscribe(name, variables, handlers) {
    const id = String(this.nextId++);
    const subscription = { id, name, variables, handlers, query: null };
    this.subscriptions.set(id, subscription);
    this.document(name).then(
      (query) => {
        if (!this.subscriptions.has(id)) return; // stopped before its document arrived
        subscription.query = query;
        this._ensureSocket();
        this._send(subscription);
      },
      (error) => handlers.error && handlers.error(error.message)
    );
    return () => {
      this.subscriptions.delete(id);
      if (this.socket && this.socket.readyState === WebSocket.OPEN && this.socket.acknowledged) {
        this.socket.send(JSON.stringify({ id, type: "complete" }));
      }
    };
  }

  close() {
    this.closed = true;
    this.subscriptions.clear();
    if (this.socket) this.socket.close(1000, "signed out");
  }

  _ensureSocket() {
    if (this.closed || (this.socket && this.socket.readyState <= WebSocket.OPEN)) return;
    const url = new URL(this.endpoint, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url.href, "graphql-transport-ws");
    socket.acknowledged = false;
    this.socket = socket;
    this._status("connecting");
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${this.token}` } }));
    });
    socket.addEventListener("message", (event) => this._message(socket, event));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.closed) return;
      if (event.code === 4401 || event.code === 4403) {
        this._status("refused", event.reason || "the server refused the token");
        if (event.code === 4401 && this.onUnauthenticated) this.onUnauthenticated(event.reason || "the token was refused");
        return;
      }
      this._status("reconnecting", event.reason || `closed (${event.code})`);
      const delay = this.retryDelay;
      this.retryDelay = Math.min(this.retryDelay * 2, 10000);
      window.setTimeout(() => {
        if (this.subscriptions.size) {
          this._ensureSocket();
          for (const subscription of this.subscriptions.values()) if (subscription.query) this._send(subscription);
        }
      }, delay);
    });
  }

  _send(subscription) {
    const socket = this.socket;
    if (!socket || !socket.acknowledged) return; // sent on connection_ack
    if (subscription.handlers.start) subscription.handlers.start();
    socket.send(
      JSON.stringify({
        id: subscription.id,
        type: "subscribe",
        payload: { query: subscription.query, variables: subscription.variables, operationName: subscription.name },
      })
    );
  }

  _message(socket, event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (message.type === "connection_ack") {
      socket.acknowledged = true;
      this.retryDelay = 500;
      this._status("live");
      for (const subscription of this.subscriptions.values()) if (subscription.query) this._send(subscription);
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next" || message.type === "error" || message.type === "complete") {
      const subscription = this.subscriptions.get(message.id);
      if (!subscription) return;
      if (message.type === "next") {
        const payload = message.payload || {};
        if (payload.errors && payload.errors.length && subscription.handlers.error) {
          subscription.handlers.error(payload.errors[0].message);
        }
        if (payload.data) subscription.handlers.next(payload.data);
      } else if (message.type === "error") {
        this.subscriptions.delete(message.id);
        const errors = Array.isArray(message.payload) ? message.payload : [];
        if (subscription.handlers.error) subscription.handlers.error((errors[0] && errors[0].message) || "subscription refused");
      } else {
        this.subscriptions.delete(message.id);
        if (subscription.handlers.complete) subscription.handlers.complete();
      }
    }
  }
}
