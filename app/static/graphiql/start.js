// Starts GraphiQL (the vendored UMD builds: globals React, ReactDOM, GraphiQL and graphqlWs) against this
// server's endpoint. The configuration comes from the page's JSON block: endpoint, default query and, in
// development only, the headers holding the admin token `serve` printed.
//
// Queries and mutations are POSTed to the endpoint; subscriptions go over a WebSocket to the same origin
// and path (protocol graphql-transport-ws, graphql-ws's client), with the headers editor's Authorization
// sent in connection_init's payload, as the server expects.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var TAB_STATE = "graphiql:tabState";
  var socketUrl = (function () {
    var url = new URL(config.endpoint, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.hash = "";
    return url.toString();
  })();
  var clients = {}; // one graphql-ws client per Authorization value (a new token opens a new socket)

  function authorization(headers) {
    var value = null;
    Object.keys(headers || {}).forEach(function (name) {
      if (name.toLowerCase() === "authorization") value = headers[name];
    });
    return typeof value === "string" ? value : "";
  }

  function socketClient(token) {
    if (!clients[token]) {
      clients[token] = graphqlWs.createClient({
        url: socketUrl,
        lazy: true, // connects on the first subscription, closes after the last one
        retryAttempts: 0, // a refused token (4401 / 4403) is shown, not retried
        connectionParams: token ? { Authorization: token } : {},
      });
    }
    return clients[token];
  }

  // The operation GraphiQL is about to run is a subscription (from the parsed document it passes along,
  // else from the text: the named operation, or the only one).
  function isSubscription(params, options) {
    var ast = options && options.documentAST;
    if (ast && ast.definitions) {
      var operations = ast.definitions.filter(function (definition) {
        return definition.kind === "OperationDefinition";
      });
      var chosen = operations.filter(function (definition) {
        return params.operationName ? definition.name && definition.name.value === params.operationName : true;
      })[0];
      return Boolean(chosen) && chosen.operation === "subscription";
    }
    var text = String(params.query || "").replace(/#[^\n]*/g, "");
    if (params.operationName) {
      return new RegExp("\\bsubscription\\s+" + params.operationName + "\\b").test(text);
    }
    return /^\s*subscription\b/.test(text);
  }

  function describe(error) {
    if (Array.isArray(error)) return { errors: error };
    if (error && typeof error.code === "number") {
      // a CloseEvent: the server's close code and reason (README, Live updates)
      return new Error("WebSocket closed: " + error.code + (error.reason ? " " + error.reason : ""));
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  // An observable GraphiQL subscribes to: each message replaces the result pane, ■ unsubscribes.
  function subscribe(params, headers) {
    return {
      subscribe: function (observer) {
        var sink = typeof observer === "function" ? { next: observer } : observer;
        var dispose = socketClient(authorization(headers)).subscribe(
          { query: params.query, variables: params.variables || undefined, operationName: params.operationName || undefined },
          {
            next: function (value) {
              if (sink.next) sink.next(value);
            },
            error: function (error) {
              var described = describe(error);
              if (Array.isArray(error)) {
                if (sink.next) sink.next(described);
                if (sink.complete) sink.complete();
              } else if (sink.error) {
                sink.error(described);
              }
            },
            complete: function () {
              if (sink.complete) sink.complete();
            },
          }
        );
        return { unsubscribe: dispose };
      },
    };
  }

  function fetcher(params, options) {
    var editorHeaders = (options && options.headers) || {};
    if (isSubscription(params, options)) return subscribe(params, editorHeaders);
    var headers = Object.assign(
      { Accept: "application/graphql-response+json, application/json", "Content-Type": "application/json" },
      editorHeaders
    );
    return fetch(config.endpoint, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(params),
      credentials: "same-origin",
    }).then(function (response) {
      return response.json();
    });
  }

  // Headers are not persisted (the token changes at every `serve`), so tabs restored from an earlier
  // visit come back without any: give them the current ones.
  function refreshStoredTabs(headers) {
    try {
      var stored = window.localStorage.getItem(TAB_STATE);
      if (!stored) return;
      var state = JSON.parse(stored);
      (state.tabs || []).forEach(function (tab) {
        if (!tab.headers) tab.headers = headers;
      });
      window.localStorage.setItem(TAB_STATE, JSON.stringify(state));
    } catch (error) {
      // no storage, or a state GraphiQL will discard anyway
    }
  }

  var props = {
    fetcher: fetcher,
    defaultQuery: config.defaultQuery,
    shouldPersistHeaders: false,
    isHeadersEditorEnabled: true,
  };
  if (config.headers) {
    refreshStoredTabs(config.headers);
    props.defaultHeaders = config.headers;
    props.defaultEditorToolsVisibility = "headers";
  }
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, props));
})();
