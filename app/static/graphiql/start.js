// Starts GraphiQL (the vendored UMD build: globals React, ReactDOM, GraphiQL) against this server's
// endpoint. The configuration comes from the page's JSON block: endpoint, default query and, in
// development only, the headers holding the admin token `serve` printed.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var TAB_STATE = "graphiql:tabState";

  function fetcher(params, options) {
    var headers = Object.assign(
      { Accept: "application/graphql-response+json, application/json", "Content-Type": "application/json" },
      (options && options.headers) || {}
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
