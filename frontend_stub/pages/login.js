// Log in, `?page=login`: a session login through the JSON API. The form is
// drawn by the same renderer as the steps, from a schema written here. With
// `&flow=<id>` (a flow that asked for a login) it goes back to that flow.

import { api, ApiUnreachable, forgetCsrfToken } from "../api.js";
import { h } from "../render/dom.js";
import { renderErrorSummary } from "../render/descriptor.js";
import { renderForm } from "../render/form.js";
import { envelopeErrors } from "./flow.js";

const LOGIN_FORM = {
  schema: {
    type: "object",
    properties: {
      username: { type: "string", title: "Username" },
      password: { type: "string", title: "Password", format: "password" },
    },
    required: ["username", "password"],
  },
  ui_schema: {
    username: { "ui:autocomplete": "username" },
    password: { "ui:autocomplete": "current-password" },
  },
};

/** Logs in, then goes on with `flow` (a flow the login was asked for), or to the catalog. */
export async function loginPage(view, { flow = null } = {}) {
  const next = flow ? { pipeline: flow } : { page: "catalog" };
  const params = new URLSearchParams(next);
  // Sent here to log in, the user may have been logged out meanwhile (in another tab).
  const user = view.user() && (await view.reloadUser());
  if (!view.alive()) return;
  if (user) {
    const heading = h("h1", { tabindex: "-1" }, "You are logged in");
    const label = flow ? "Go on with the flow" : "Catalog";
    const mounted = view.mount(
      h(
        "section",
        {},
        heading,
        h("p", {}, "Signed in as ", h("strong", {}, user.username), "."),
        h("a", { class: "button primary", href: `?${params}`, "data-route": "" }, label),
      ),
      "Log in",
    );
    if (mounted && !view.first) heading.focus();
    return;
  }
  show({ username: "" }, []);

  function show(data, errors) {
    const options = { errors, submitLabel: "Log in", onSubmit: submit };
    const form = renderForm({ ...LOGIN_FORM, data }, options);
    const summary = renderErrorSummary(form.unplacedErrors);
    const heading = h("h1", { tabindex: "-1" }, "Log in");
    view.mount(h("section", { class: "login" }, heading, summary, form.element), "Log in");
    (form.firstInvalid ?? summary ?? form.element.querySelector("input"))?.focus();

    async function submit({ username = "", password = "" }) {
      form.setBusy(true);
      let answer;
      try {
        answer = await api.login(username, password);
      } catch (failure) {
        if (!(failure instanceof ApiUnreachable)) throw failure;
        answer = { status: 0, data: { error: { code: "unreachable", message: failure.message } } };
      }
      if (!view.alive()) return;
      if (answer.status === 200) {
        forgetCsrfToken(); // Django rotates it on login
        view.setUser(answer.data.user);
        view.go(next);
        return;
      }
      show({ username }, envelopeErrors(answer.data));
    }
  }
}
