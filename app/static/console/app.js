// The operator console's entry module: the token (the development one `serve` printed, or one the
// operator pastes, kept in this tab's sessionStorage), the viewer in the header, and the pages by
// hash route: #/inbox, #/review/<executionId>/<stepId>, #/execution/<executionId>.

import { Api } from "./api.js";
import { InboxPage } from "./inbox.js";
import { ReviewPage } from "./review.js";
import { ExecutionPage } from "./execution.js";
import { h, fill } from "./util.js";

const TOKEN_KEY = "control-plane-console:token";
const config = JSON.parse(document.getElementById("console-config").textContent);
const main = document.getElementById("main");

customElements.define("cp-inbox", InboxPage);
customElements.define("cp-review", ReviewPage);
customElements.define("cp-execution", ExecutionPage);

class ViewerBadge extends HTMLElement {
  show(viewer) {
    if (!viewer) {
      fill(this, h("span", { class: "viewer-none" }, "Not signed in"));
      return;
    }
    const workspaces = viewer.allWorkspaces ? "every workspace" : viewer.workspaces.join(", ") || "no workspace";
    fill(
      this,
      h(
        "p",
        { class: "viewer", "data-testid": "viewer" },
        "Signed in as ",
        h("strong", { "data-testid": "viewer-principal" }, viewer.principalId),
        ` (${viewer.roles.join(", ") || "no role"}; ${viewer.authLevel}) · sees ${workspaces}`
      ),
      h("button", { type: "button", class: "secondary", onClick: () => showSignIn("Paste another token.") }, "Use another token")
    );
  }
}
customElements.define("cp-viewer", ViewerBadge);

const state = { api: null, viewer: null, page: null };

function storedToken() {
  try {
    return window.sessionStorage.getItem(TOKEN_KEY);
  } catch (error) {
    return null;
  }
}

function storeToken(token) {
  try {
    window.sessionStorage.setItem(TOKEN_KEY, token);
  } catch (error) {
    // no storage: the token lasts until the page is closed
  }
}

function showSignIn(message) {
  if (state.page && state.page.stop) state.page.stop();
  state.page = null;
  const input = h("textarea", {
    id: "token",
    name: "token",
    rows: "4",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "token-help",
  });
  const form = h(
    "form",
    {
      class: "sign-in",
      "aria-labelledby": "sign-in-title",
      onSubmit: (event) => {
        event.preventDefault();
        const token = input.value.trim().replace(/^Bearer\s+/i, "");
        if (token) signIn(token, true);
      },
    },
    h("h1", { id: "sign-in-title" }, "Sign in"),
    message ? h("p", { role: "alert", class: "notice" }, message) : null,
    h("label", { for: "token" }, "Bearer token"),
    input,
    h(
      "p",
      { id: "token-help", class: "help" },
      "A JWT this server accepts (for example from `python -m app token --sub you --role admin --workspace '*'`). " +
        "It is kept in this tab only."
    ),
    h("button", { type: "submit" }, "Sign in")
  );
  fill(main, form);
  document.querySelector("cp-viewer").show(state.viewer);
  input.focus();
}

async function signIn(token, pasted) {
  const api = new Api({ endpoint: config.endpoint, assets: config.assets, token });
  let viewer;
  try {
    viewer = (await api.data("Viewer")).viewer;
  } catch (error) {
    api.close();
    showSignIn(`That token was refused: ${error.message}`);
    return;
  }
  if (state.api) state.api.close();
  state.api = api;
  // A token that expires (or is revoked) while the console is open: back to the sign-in form.
  api.onUnauthenticated = (reason) => {
    if (state.api !== api) return;
    api.close();
    state.api = null;
    state.viewer = null;
    try {
      window.sessionStorage.removeItem(TOKEN_KEY);
    } catch (error) {
      // no storage
    }
    showSignIn(`Your token is no longer accepted (${reason}). Paste a new one.`);
  };
  state.viewer = viewer;
  if (pasted) storeToken(token);
  document.querySelector("cp-viewer").show(viewer);
  route();
}

function route() {
  if (!state.api) return;
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (state.page && state.page.stop) state.page.stop();
  let page;
  if (parts[0] === "review" && parts[1] && parts[2]) {
    page = document.createElement("cp-review");
    page.setup(state.api, state.viewer, { executionId: parts[1], stepId: parts[2] });
  } else if (parts[0] === "execution" && parts[1]) {
    page = document.createElement("cp-execution");
    page.setup(state.api, state.viewer, { executionId: parts[1] });
  } else {
    page = document.createElement("cp-inbox");
    page.setup(state.api, state.viewer, {});
  }
  state.page = page;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === (parts[0] || "inbox")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  fill(main, page);
  const heading = main.querySelector("h1");
  if (heading && document.activeElement === document.body) main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", () => {
  route();
  main.focus({ preventScroll: true });
});

const token = storedToken() || config.token;
if (token) signIn(token, false);
else showSignIn("");
