// The catalog, `?page=catalog` (and the default page): every pipeline the API
// serves, with a button per provider to start a flow. A refused OAuth callback
// that named no flow comes back here with `?error=<code>`.

import { ApiUnreachable } from "../api.js";
import { append, h, humanize } from "../render/dom.js";
import { renderErrorSummary } from "../render/descriptor.js";
import { loadCatalog } from "../names.js";
import { callbackMessage, envelopeErrors, startFlow } from "./flow.js";

export async function catalogPage(view, { error = null } = {}) {
  // Only in the app's own words: the code is the URL's, which anyone can write.
  const refused = callbackMessage(error);
  const callback =
    refused && h("div", { class: "notice warning", role: "alert", tabindex: "-1" }, refused);
  const pipelines = await loadCatalog();

  /**
   * Shows `section` as the page. Navigated to, it starts over where a keyboard or
   * a screen reader finds it (`heading`), a refused sign-in said first; the page
   * the app opens on is left to the browser.
   */
  function show(section, heading) {
    if (view.mount(section, "Catalog") && (callback || !view.first)) {
      (callback || heading).focus();
    }
  }

  if (pipelines === null) {
    const heading = h("h1", { tabindex: "-1" }, "Pipelines");
    const unloaded = "The API's catalog could not be loaded.";
    const notice = h("div", { class: "notice warning", role: "alert" }, unloaded);
    show(h("section", {}, heading, callback, notice), heading);
    return;
  }

  const problems = h("div", { class: "problems" });
  const user = view.user();

  async function start(pipeline, provider, button) {
    button.disabled = true;
    problems.replaceChildren();
    let answer;
    try {
      answer = await startFlow(view, pipeline.name, provider.key);
    } catch (failure) {
      if (!(failure instanceof ApiUnreachable)) throw failure;
      answer = { status: 0, data: { error: { code: "unreachable", message: failure.message } } };
    }
    if (answer.status === 201 || !view.alive()) return;
    button.disabled = false;
    append(problems, [
      renderErrorSummary(envelopeErrors(answer.data), { title: `“${pipeline.title}” did not start` }),
      answer.status === 401 &&
        h("p", {}, h("a", { href: "?page=login", "data-route": "" }, "Log in"), " to start it."),
    ]);
    problems.querySelector(".error-summary")?.focus();
  }

  const heading = h("h1", { tabindex: "-1" }, "Start a flow");
  show(
    h(
      "section",
      { class: "catalog" },
      heading,
      h(
        "p",
        { class: "lead" },
        "Each flow is run by the server, one step at a time; ",
        "this page knows none of them in advance. ",
        user ? "" : "Some need you to log in first.",
      ),
      callback,
      problems,
      pipelines.length
        ? h(
            "ul",
            { class: "cards" },
            pipelines.map((pipeline) =>
              h(
                "li",
                { class: "card" },
                h("h2", {}, pipeline.title || humanize(pipeline.name)),
                h("p", { class: "muted" }, h("code", {}, pipeline.name)),
                pipeline.providers?.length
                  ? h(
                      "ul",
                      { class: "providers" },
                      pipeline.providers.map((provider) => {
                        const button = h(
                          "button",
                          {
                            type: "button",
                            class: "secondary",
                            "aria-label": `Start ${pipeline.title} with ${provider.name}`,
                          },
                          provider.name,
                        );
                        button.addEventListener("click", () => start(pipeline, provider, button));
                        return h("li", {}, button);
                      }),
                    )
                  : h("p", { class: "muted" }, "No provider is set up."),
              ),
            ),
          )
        : h("p", {}, "The API serves no pipelines."),
    ),
    heading,
  );
}
