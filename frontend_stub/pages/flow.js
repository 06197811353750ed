// The flow page, `?pipeline=<id>`: shows the flow's current step and runs
// what the user does with it. Every answer of the API decides what comes next:
//
//   200, 201  the descriptor of the step to show (a redirect is followed)
//   204       the flow was cancelled
//   400       the same step with its errors (a descriptor), or a malformed request (an envelope)
//   409       the current descriptor: someone else moved the flow; shown with a notice
//   410       the flow is gone (expired, cancelled, outdated): offer `restart`
//   401, 404  the envelope's message, in place of the step (or, when another tab logged
//             the user out meanwhile, that, with a login that comes back here)
//   other     refused, the flow as it was (an envelope's 400, 413, 429, 503...): the step
//             stays, with what was typed, under the envelope's message

import { api, ApiUnreachable, apiUrl } from "../api.js";
import { h, own } from "../render/dom.js";
import { renderDescriptor, renderErrorSummary } from "../render/descriptor.js";
import { loadNames } from "../names.js";

/** Codes of the error a 409 adds to the descriptor; shown as the notice instead. */
const CONFLICT_CODES = new Set(["stale_version", "pipeline_finished"]);

/** What `?error=<code>` means when the backend's callback sends the browser back. */
const CALLBACK_ERRORS = {
  state_missing: "The sign-in came back without its state, so it was ignored.",
  state_unknown: "The sign-in could not be matched to any flow, so it was ignored.",
  state_reused: "This sign-in was already used, so it was ignored.",
  state_mismatch: "The flow no longer waited for this sign-in, so it was ignored.",
  state_wrong_session: "This sign-in belongs to another session, so it was ignored.",
  stale_version: "The flow moved on elsewhere while you signed in, so this sign-in was not kept.",
  state_too_large: "The sign-in brought back more than this flow can keep, so it was not kept.",
  database_unavailable:
    "The server could not reach its database while you signed in. Try again shortly.",
};

/** Said for a code this app does not know: never the code, which anyone can write. */
const CALLBACK_REFUSED = "The sign-in could not be used.";

/** Headings for a 410; the envelope's (translated) message says the rest. */
const GONE_TITLES = {
  pipeline_expired: "Flow expired",
  pipeline_cancelled: "Flow cancelled",
  pipeline_outdated: "Flow out of date",
};

/** What `?error=<code>` means, or null for a code this app does not know. */
export function callbackMessage(code) {
  return own(CALLBACK_ERRORS, code) ?? null;
}

/**
 * Starts `pipeline` with `provider` and shows its first step. The flow's
 * `return_to` is this page, so that OAuth callbacks come back to the app
 * (the backend adds `?pipeline=<id>`, and `&error=<code>` when it refused).
 * Answers the API's answer when it did not start.
 */
export async function startFlow(view, pipeline, provider) {
  const answer = await api.start(pipeline, provider, returnTo());
  // Not if the user went elsewhere meanwhile: the flow waits at its address.
  if (answer.status === 201 && view.alive()) {
    view.go({ pipeline: answer.data.id }, { started: answer.data });
  }
  return answer;
}

/** This app's URL without the parameters of a flow. */
function returnTo() {
  const url = new URL(location.href);
  for (const name of ["pipeline", "error", "page", "flow"]) url.searchParams.delete(name);
  url.hash = "";
  return url.href;
}

export async function flowPage(view, { id, error = null, started = null }) {
  const names = await loadNames();
  let shown = null; // the descriptor on screen
  let busy = () => {};
  let flashed = null; // the alert flash() put above the step

  if (started) {
    showDescriptor(started, { follow: true });
  } else if (id === "." || id === "..") {
    // A URL resolves a dot segment away: asked for, it would name another API path.
    showProblem("No such flow", "This address names no flow.");
  } else {
    const message = callbackMessage(error) ?? CALLBACK_REFUSED;
    const notice = error && { tone: "warning", message };
    // After a refused callback the user reads the notice before going anywhere.
    await run(() => api.show(id), { notice, follow: !error });
  }

  /** Does one request and shows what its answer says. */
  async function run(call, { notice = null, follow = true } = {}) {
    busy(true);
    let answer;
    try {
      answer = await call();
    } catch (failure) {
      if (!(failure instanceof ApiUnreachable)) throw failure;
      if (!view.alive()) return;
      busy(false);
      // Keep the step and what was typed into it: the user may simply try again.
      if (shown) return flash(warning(`${failure.message} Check your connection and try again.`));
      return showProblem("The API could not be reached", failure.message);
    }
    if (!view.alive()) return;
    const { status, data } = answer;
    if ((status === 200 || status === 201) && isDescriptor(data)) {
      return showDescriptor(data, { notice, follow });
    }
    if (status === 204) return showCancelled();
    if (status === 400 && isDescriptor(data)) return showDescriptor(data, { focusErrors: true });
    if (status === 409 && isDescriptor(data)) return showConflict(data);
    if (status === 410) return showGone(data?.error ?? {});
    if (status === 401 || status === 404) return showRefused(status, data);
    // Refused, and nothing moved: a malformed or too large request, too many,
    // a database down for a moment, a proxy's error page. The user can fix
    // what was typed, or wait, and send it again: keep the step as it is.
    busy(false);
    if (shown && status === 400) return flash(renderErrorSummary(envelopeErrors(data)));
    const message = withWait(messageOf(data), answer.retryAfter);
    if (shown) return flash(warning(message));
    return showProblem(`The server answered ${status}`, message);
  }

  function showDescriptor(descriptor, options = {}) {
    const { notice = null, focusErrors = false, follow = false } = options;
    shown = descriptor;
    const version = descriptor.step?.version;
    const rendered = renderDescriptor(descriptor, {
      names,
      apiRoot: apiUrl("/"),
      notice,
      focusErrors,
      followRedirects: follow,
      onSubmit: (action, data) => run(() => api.act(action, { version, data })),
      // Back, Cancel, or whatever else is offered: its method and href as given.
      onAction: (action) =>
        run(() => api.act(action, action.method === "DELETE" ? undefined : { version })),
      onRestart: (button) => restart(descriptor.pipeline, descriptor.provider, button),
    });
    busy = rendered.setBusy;
    if (!view.mount(rendered.element, descriptor.title)) return;
    rendered.focus.focus();
    // Replace, not push: going back from the provider's page returns to
    // the page before this flow rather than bouncing to the provider again.
    if (rendered.redirectTo) location.replace(rendered.redirectTo);
  }

  /** `alert` above the step on screen (in place of the last), which stays as it is. */
  function flash(alert) {
    flashed?.remove();
    flashed = alert;
    view.main.querySelector(".step h2").after(alert);
    alert.focus();
  }

  /**
   * A 401 or 404, as the API says it; unless the user the header names was
   * logged out meanwhile (by another tab), which is then what is said: the
   * flow waits for that user's next login.
   */
  async function showRefused(status, data) {
    const before = view.user();
    const now = await view.reloadUser();
    if (!view.alive()) return;
    if (before && before.id !== now?.id) {
      const whom = h("strong", {}, before.username);
      if (now) {
        const other = h("strong", {}, now.username);
        const message = ["You are logged in as ", other, " now; this flow is ", whom, "'s."];
        return showProblem("You are logged in as someone else", message);
      }
      const message = ["This flow waits for ", whom, ": log in again to go on with it."];
      return showProblem("You were logged out", message, loginLink());
    }
    if (status === 401) return showProblem("Log in to go on", messageOf(data), loginLink());
    // Opened logged out, a flow started logged in is not found: it waits for the login.
    const login = !now && ["Started while logged in? ", loginLink(), " to go on with it."];
    return showProblem("No such flow", messageOf(data), login);
  }

  /** Log in, then back to this flow. */
  function loginLink() {
    const href = `?${new URLSearchParams({ page: "login", flow: id })}`;
    return h("a", { href, "data-route": "" }, "Log in");
  }

  function showConflict(descriptor) {
    const errors = descriptor.errors ?? [];
    const conflict = errors.find((e) => CONFLICT_CODES.has(e.code));
    const message = `${conflict?.message ?? "This flow has moved on."} This is where it stands now.`;
    showDescriptor(
      { ...descriptor, errors: errors.filter((e) => !CONFLICT_CODES.has(e.code)) },
      { notice: { tone: "warning", message } },
    );
  }

  function showGone(error) {
    const restartTo = error.restart;
    showPage(
      own(GONE_TITLES, error.code) ?? "This flow is over",
      h("div", { class: "notice warning", role: "alert" }, error.message ?? "It cannot go on."),
      restartTo &&
        h(
          "p",
          {},
          "You can start ",
          h("strong", {}, names.pipeline(restartTo.pipeline)),
          ` (${names.provider(restartTo.pipeline, restartTo.provider)}) again from its first step.`,
        ),
      h(
        "div",
        { class: "buttons" },
        restartTo && restartButton(restartTo, "primary"),
        catalogLink(),
      ),
    );
  }

  function showCancelled() {
    const cancelled = shown;
    showPage(
      "Flow cancelled",
      h("div", { class: "notice info", role: "status" }, "The flow was cancelled."),
      h(
        "div",
        { class: "buttons" },
        catalogLink("primary"),
        cancelled && restartButton(cancelled, "secondary"),
      ),
    );
  }

  function showProblem(title, message, ...extra) {
    const alert = h("div", { class: "notice warning", role: "alert" }, message);
    showPage(title, alert, h("p", {}, extra), catalogLink());
  }

  function showPage(title, ...children) {
    shown = null;
    busy = () => {};
    const heading = h("h2", { tabindex: "-1" }, title);
    if (view.mount(h("section", { class: "step" }, heading, children), title)) heading.focus();
  }

  /** "Start again" for `{pipeline, provider}` (a 410's `restart`, or the flow shown). */
  function restartButton({ pipeline, provider }, tone) {
    const onclick = (event) => restart(pipeline, provider, event.currentTarget);
    return h("button", { type: "button", class: tone, onclick }, "Start again");
  }

  /** Starts the flow again; `button` stays disabled, so that a double click starts one. */
  async function restart(pipeline, provider, button) {
    button.disabled = true;
    let answer;
    try {
      answer = await startFlow(view, pipeline, provider);
    } catch (failure) {
      if (!(failure instanceof ApiUnreachable)) throw failure;
      return showProblem("The API could not be reached", failure.message);
    }
    if (answer.status === 401) await view.reloadUser(); // logged out meanwhile, say
    if (answer.status !== 201 && view.alive()) {
      const summary = renderErrorSummary(envelopeErrors(answer.data));
      const login = answer.status === 401 && h("p", {}, loginLink(), " to start it.");
      showPage("The flow could not start again", summary, login, catalogLink());
    }
  }
}

function catalogLink(tone = "secondary") {
  const props = { class: `button ${tone}`, href: "?page=catalog", "data-route": "" };
  return h("a", props, "Back to the catalog");
}

function warning(message) {
  return h("div", { class: "notice warning", role: "alert", tabindex: "-1" }, message);
}

/** `message`, and the wait a Retry-After of some seconds asks for. */
function withWait(message, retryAfter) {
  const seconds = Number(retryAfter);
  if (!retryAfter || !Number.isInteger(seconds) || seconds <= 0) return message;
  return `${message} You can try again in ${seconds} second${seconds === 1 ? "" : "s"}.`;
}

function isDescriptor(data) {
  return Boolean(data && typeof data === "object" && data.kind && data.step);
}

function messageOf(data) {
  return data?.error?.message ?? "Something went wrong.";
}

/** An envelope's errors as `{code, message, field}` items. */
export function envelopeErrors(data) {
  const error = data?.error ?? {};
  if (Array.isArray(error.errors) && error.errors.length) return error.errors;
  const message = error.message ?? "Something went wrong.";
  return [{ code: error.code ?? "error", message, field: null }];
}
