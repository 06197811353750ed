// The app: a header, and a tiny router on the query string.
//
//   ?pipeline=<id>[&error=<code>]   pages/flow.js     a flow's current step
//   ?page=login[&flow=<id>]         pages/login.js    log in (and go back to that flow)
//   anything else (?page=catalog)   pages/catalog.js  start a flow (and an `error` that named
//                                                     no flow)
//
// Query parameters rather than paths, so that any static file server can
// serve the app from its index.html. Each page gets a `view`: where to
// mount, whether it is still the page on screen, and how to go elsewhere.
// With the API on another origin, the app's URLs keep `?api=`.

import { api, apiBase, ApiUnreachable, apiUrl, forgetCsrfToken } from "./api.js";
import { h } from "./render/dom.js";
import { catalogPage } from "./pages/catalog.js";
import { flowPage } from "./pages/flow.js";
import { loginPage } from "./pages/login.js";

const main = document.getElementById("main");
const authArea = document.getElementById("auth");
let user = null; // {id, username} of whoever is logged in, or null
let generation = 0; // bumped on every navigation; late answers for older pages are dropped
let routed = null; // the address (path and query) of the page on screen

function route(extras = {}) {
  const params = new URLSearchParams(location.search);
  const error = params.get("error"); // a refused OAuth callback's code
  if (params.has("error")) {
    // Said once: reloading the page should not repeat it.
    const url = new URL(location.href);
    url.searchParams.delete("error");
    history.replaceState(history.state, "", url.href);
  }
  const first = routed === null;
  routed = address();
  const view = makeView(first);
  let page;
  if (params.get("pipeline")) {
    page = flowPage(view, { id: params.get("pipeline"), error, ...extras });
  } else if (params.get("page") === "login") {
    page = loginPage(view, { flow: params.get("flow") });
  } else {
    page = catalogPage(view, { error });
  }
  page.catch((failure) => {
    console.error(failure);
    const message = `This page failed: ${failure.message}`;
    const alert = h("div", { class: "notice warning", role: "alert" }, message);
    view.mount(alert);
  });
}

/** Where the app is, but for the `#fragment` (which only scrolls, as the skip link does). */
function address() {
  return location.pathname + location.search;
}

function makeView(first = false) {
  const mine = ++generation;
  return {
    main,
    /** Whether this page is the one the app opened on, rather than one navigated to. */
    first,
    alive: () => mine === generation,
    /** Shows `node` as the page, unless the user has gone elsewhere meanwhile. */
    mount(node, title = "") {
      if (mine !== generation) return false;
      main.replaceChildren(node);
      document.title = title ? `${title} · Pipelines` : "Pipelines";
      return true;
    },
    /** Navigates within the app: `{pipeline: id}`, `{page: "login"}`... */
    go(params, extras = {}) {
      history.pushState(null, "", appUrl(`?${new URLSearchParams(params)}`));
      route(extras);
    },
    user: () => user,
    setUser,
    /** Asks the API again who is logged in (another tab may have changed it), and says so. */
    reloadUser: loadUser,
  };
}

/**
 * `href`, a URL of this app, with `?api=` when the API is on another origin:
 * the app remembers it per tab, and the address may be opened in another.
 */
function appUrl(href) {
  const url = new URL(href, location.href);
  if (apiBase) url.searchParams.set("api", apiBase);
  return url.href;
}

// -- who is logged in ---------------------------------------------------------------------------

function setUser(next) {
  user = next ?? null;
  authArea.replaceChildren(
    ...(user
      ? [
          h("span", { class: "who" }, "Signed in as ", h("strong", {}, user.username)),
          h("button", { type: "button", class: "quiet", onclick: logout }, "Log out"),
        ]
      : [h("a", { href: "?page=login", "data-route": "" }, "Log in")]),
  );
}

async function logout() {
  try {
    await api.logout();
  } catch (failure) {
    if (!(failure instanceof ApiUnreachable)) throw failure;
  }
  forgetCsrfToken(); // Django rotates it on logout too
  setUser(null);
  makeView().go({ page: "catalog" });
}

/** Who is logged in, as the API says, shown in the header; unchanged if it cannot say. */
async function loadUser() {
  try {
    const { status, data } = await api.me();
    // Anything but an answer (a 503, a proxy's 502) says nothing of who is logged in.
    if (status === 200) setUser(data?.authenticated ? data.user : null);
  } catch (failure) {
    if (!(failure instanceof ApiUnreachable)) throw failure;
    authArea.replaceChildren(h("span", { class: "muted" }, "API unreachable"));
  }
  return user;
}

// -- start --------------------------------------------------------------------------------------

// Links marked `data-route` navigate inside the app, without reloading it.
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[data-route]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  history.pushState(null, "", appUrl(link.href));
  route();
});
// A `#fragment` (the skip link's) changes nothing on screen: the page and what
// was typed into it stay.
window.addEventListener("popstate", () => {
  if (address() !== routed) route();
});

// Opened elsewhere (a middle-click, the link's menu), a link is its own address:
// it gets `?api=` just before, as the addresses the app pushes have it.
for (const type of ["pointerdown", "focusin"]) {
  document.addEventListener(type, (event) => {
    const link = event.target.closest?.("a[data-route]");
    if (link) link.href = appUrl(link.getAttribute("href"));
  });
}

document.getElementById("api-base").textContent = apiBase || "this origin";
document.getElementById("api-schema").href = apiUrl("/api/schema/");
await loadUser();
route();
