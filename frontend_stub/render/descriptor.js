// A step descriptor → DOM. One function per `kind`; the rest is shared.
//
//   descriptor field         rendered as
//   step.path                breadcrumbs, one crumb per running pipeline (nested flows)
//   step.index / step.total  a <progress> bar, "Step 2 of 3"
//   title / description      the step's <h2> (focused on every new step) and a paragraph
//   errors (field: null)     an alert box above the step
//   errors (field: "a.b")    next to the field (render/form.js)
//   kind: form               render/form.js, with Back and Cancel beside the submit button
//   kind: redirect           a "Continue" link (a path is the API's); the flow page then goes there
//   kind: complete           `result` as a definition list (and as JSON)
//   kind: error              the errors, and a way to start again
//   actions                  Back and Cancel buttons, only those offered, run as given
//
// Renderers are pure: they build elements and call back (`ctx.on*`) on user
// actions; pages/flow.js does the requests and decides what to show next.

import { h, humanize, own, safeUrl } from "./dom.js";
import { renderForm } from "./form.js";

const KINDS = {
  form: renderFormStep,
  redirect: renderRedirectStep,
  complete: renderCompleteStep,
  error: renderErrorStep,
};

const FALLBACK_TITLES = {
  form: "Next step",
  redirect: "Continue elsewhere",
  complete: "Done",
  error: "This flow failed",
};

/**
 * @param descriptor  the step descriptor
 * @param ctx  names: display names (names.js); apiRoot: the API's URL, which paths are on;
 *   notice: {tone, message} to show under the title;
 *   focusErrors: focus the first error rather than the title;
 *   followRedirects: go to a redirect's URL at once;
 *   onSubmit(action, data), onAction(action), onRestart(button): what the user did
 * @returns {element, focus: what to focus, redirectTo: URL to go to or null, setBusy(busy)}
 */
export function renderDescriptor(descriptor, ctx) {
  const heading = h(
    "h2",
    { id: "step-title", tabindex: "-1" },
    descriptor.title || own(FALLBACK_TITLES, descriptor.kind) || "Step",
  );
  const render = own(KINDS, descriptor.kind) ?? renderUnknownStep;
  const body = render(descriptor, ctx);
  const element = h(
    "section",
    { class: "step", "aria-labelledby": "step-title", "data-kind": descriptor.kind },
    renderBreadcrumbs(descriptor.step?.path ?? [], ctx.names),
    renderProgress(descriptor),
    heading,
    descriptor.description && h("p", { class: "description" }, descriptor.description),
    ctx.notice && renderNotice(ctx.notice),
    body.element,
  );
  return {
    element,
    focus: body.focus ?? heading,
    redirectTo: body.redirectTo ?? null,
    setBusy: body.setBusy ?? (() => {}),
  };
}

// -- shared parts -------------------------------------------------------------------------------

/** Where the step is: "Add an integration (Chat)" › "Link an identity (Local demo server)". */
function renderBreadcrumbs(path, names) {
  if (!path.length) return null;
  return h(
    "nav",
    { class: "breadcrumbs", "aria-label": "Flow" },
    h(
      "ol",
      {},
      path.map((level, index) => {
        const last = index === path.length - 1;
        // Each level's own position, when there are levels (the bar shows the outermost's).
        const nested = path.length > 1 && level.name && level.total;
        const position = nested ? `step ${level.index + 1} of ${level.total}` : "";
        return h(
          "li",
          { "aria-current": last ? "step" : null },
          h("span", { class: "crumb-title" }, names.pipeline(level.pipeline)),
          " ",
          h("span", { class: "crumb-provider" }, `(${names.provider(level.pipeline, level.provider)})`),
          position && h("span", { class: "crumb-position" }, ` · ${position}`),
        );
      }),
    ),
  );
}

function renderProgress(descriptor) {
  const { index = 0, total = 0 } = descriptor.step ?? {};
  if (!total || descriptor.kind === "error") return null; // a failed flow goes nowhere
  const done = descriptor.kind === "complete";
  const text = done ? `All ${total} steps done` : `Step ${Math.min(index + 1, total)} of ${total}`;
  return h(
    "div",
    { class: "progress" },
    h("label", { for: "step-progress" }, text),
    h("progress", { id: "step-progress", max: total, value: done ? total : index }),
  );
}

function renderNotice(notice) {
  return h(
    "div",
    {
      class: `notice ${notice.tone ?? "info"}`,
      role: notice.tone === "warning" ? "alert" : "status",
    },
    notice.message,
  );
}

/** Errors not shown next to a field. */
export function renderErrorSummary(errors, { title = "There is a problem" } = {}) {
  if (!errors.length) return null;
  return h(
    "div",
    { class: "error-summary", role: "alert", tabindex: "-1" },
    h("p", { class: "error-summary-title" }, title),
    h(
      "ul",
      {},
      errors.map((error) =>
        h(
          "li",
          { "data-code": error.code },
          error.field ? `${humanize(error.field)}: ` : "",
          error.message,
        ),
      ),
    ),
  );
}

function actionsOf(descriptor) {
  const byName = {};
  for (const action of descriptor.actions ?? []) byName[action.name] = action;
  return byName;
}

/** Back and Cancel, each only when `actions` offers it. */
function actionButtons(descriptor, ctx) {
  const { back, cancel } = actionsOf(descriptor);
  const button = (action, tone, label) =>
    h("button", { type: "button", class: tone, onclick: () => ctx.onAction(action) }, label);
  return [
    back && button(back, "secondary", "Back"),
    cancel && button(cancel, "danger quiet", "Cancel"),
  ];
}

function setBusyOn(container) {
  return (busy) => {
    container.toggleAttribute("aria-busy", busy);
    for (const button of container.querySelectorAll("button")) button.disabled = busy;
  };
}

// -- one renderer per kind ----------------------------------------------------------------------

function renderFormStep(descriptor, ctx) {
  const { submit } = actionsOf(descriptor);
  const properties = Object.keys(descriptor.form?.schema?.properties ?? {});
  const form = renderForm(descriptor.form, {
    errors: descriptor.errors ?? [],
    submitLabel: properties.length ? "Continue" : "Confirm",
    buttons: actionButtons(descriptor, ctx),
    onSubmit: (data) => submit && ctx.onSubmit(submit, data),
  });
  const summary = renderErrorSummary(form.unplacedErrors);
  return {
    element: h("div", { class: "step-body" }, summary, form.element),
    focus: ctx.focusErrors ? (form.firstInvalid ?? summary) : null,
    setBusy: form.setBusy,
  };
}

function renderRedirectStep(descriptor, ctx) {
  // A path is on the API's origin, as the hrefs of `actions` are, not on this app's.
  const url = safeUrl(descriptor.redirect?.url, ctx.apiRoot);
  const errors = descriptor.errors ?? [];
  const summary = renderErrorSummary(errors);
  // With errors to read (a failed sign-in), the user goes on when ready.
  const going = Boolean(url && !errors.length && ctx.followRedirects);
  const element = h(
    "div",
    { class: "step-body" },
    summary,
    url
      ? h("p", {}, "This step continues at ", h("strong", {}, new URL(url).host), ".")
      : h("p", { class: "error" }, "The server gave no usable address to continue at."),
    going && h("p", { class: "hint", role: "status" }, "Taking you there…"),
    h(
      "div",
      { class: "buttons" },
      url && h("a", { class: "button primary", href: url }, errors.length ? "Try again" : "Continue"),
      actionButtons(descriptor, ctx),
    ),
  );
  return {
    element,
    focus: ctx.focusErrors ? summary : null,
    redirectTo: going ? url : null,
    setBusy: setBusyOn(element),
  };
}

function renderCompleteStep(descriptor, ctx) {
  const element = h(
    "div",
    { class: "step-body" },
    h("div", { class: "notice success", role: "status" }, "This flow is complete."),
    renderErrorSummary(descriptor.errors ?? []),
    h("h3", {}, "Result"),
    h("div", { class: "result" }, renderValue(descriptor.result)),
    h(
      "details",
      {},
      h("summary", {}, "The result as JSON"),
      h("pre", { class: "code" }, JSON.stringify(descriptor.result ?? null, null, 2)),
    ),
    endLinks(ctx, "Start another"),
  );
  return { element };
}

function renderErrorStep(descriptor, ctx) {
  const errors = descriptor.errors?.length
    ? descriptor.errors
    : [{ code: "pipeline_error", message: "The flow failed.", field: null }];
  const element = h(
    "div",
    { class: "step-body" },
    renderErrorSummary(errors, { title: "The flow could not go on" }),
    endLinks(ctx, "Start again"),
  );
  return { element };
}

function renderUnknownStep(descriptor, ctx) {
  const element = h(
    "div",
    { class: "step-body" },
    h("p", { class: "error" }, `This app cannot show a step of kind “${descriptor.kind}”.`),
    h("pre", { class: "code" }, JSON.stringify(descriptor, null, 2)),
    h("div", { class: "buttons" }, actionButtons(descriptor, ctx)),
  );
  return { element };
}

function endLinks(ctx, restartLabel) {
  return h(
    "div",
    { class: "buttons" },
    h(
      "button",
      { type: "button", class: "primary", onclick: (event) => ctx.onRestart(event.currentTarget) },
      restartLabel,
    ),
    h(
      "a",
      { class: "button secondary", href: "?page=catalog", "data-route": "" },
      "Back to the catalog",
    ),
  );
}

/** Any JSON value, as nested definition lists and lists, all as text. */
export function renderValue(value) {
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "muted" }, "(none)");
    return h("ol", { class: "value-list" }, value.map((item) => h("li", {}, renderValue(item))));
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    if (!entries.length) return h("span", { class: "muted" }, "(empty)");
    return h(
      "dl",
      { class: "value-dl" },
      entries.map(([key, item]) => [h("dt", {}, humanize(key)), h("dd", {}, renderValue(item))]),
    );
  }
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}
