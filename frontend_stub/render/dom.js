// A tiny `createElement`: the only way this app builds DOM.
//
//   h("label", { for: "f-email", class: "label" }, "Email", h("span", {}, "*"))
//
// Strings among the children become text nodes and props are set as
// attributes or properties, so text from the server is never parsed as
// HTML. There is no innerHTML anywhere in the app.

// Props set as DOM properties rather than attributes (their live state).
const PROPERTIES = new Set(["value", "checked", "selected", "textContent"]);

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (PROPERTIES.has(key)) {
      element[key] = value;
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

/** Appends children: nodes as they are, strings and numbers as text, arrays flattened. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false || child === "") continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/**
 * `url`, resolved against `base` if relative, if it is an http(s) URL (never
 * `javascript:` and the like), else null.
 */
export function safeUrl(url, base = location.href) {
  try {
    const parsed = new URL(url, base);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** `table[key]` if `table` has it as its own: `constructor` and the like are no entries. */
export function own(table, key) {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** "channel_name" → "Channel name", for keys the server gave no title for. */
export function humanize(key) {
  const words = String(key ?? "").replace(/[_-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : "";
}
