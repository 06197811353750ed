// A `form` descriptor → an HTML <form>.
//
// `form.schema` is the JSON Schema of the data to submit (generated from the
// step's DRF serializer), `form.ui_schema` holds react-jsonschema-form hints
// (`ui:widget`, `ui:order`, ...) and `form.data` the values to prefill.
//
//   schema                                   widget
//   {type: "string"}                         <input type=text>
//   {format: email | uri | date | ...}       <input type=email | url | date | ...>
//   {format: "password"} / ui:widget pwd     <input type=password>
//   ui:widget "textarea"                     <textarea>
//   {type: "integer" | "number"}             <input type=number>
//   {type: "boolean"}                        <input type=checkbox>
//   {type: ["boolean", "null"]}              <select> of Yes, No and "—" (null)
//   {enum} or {oneOf: [{const, title}]}      <select>, or radios with ui:widget "radio"
//   {type: "array", items: {enum|oneOf}}     a group of checkboxes
//   {type: "array", items: scalar}           <textarea>, one item per line
//   {type: "object", properties}             <fieldset> of its fields (paths dotted)
//   anything else                            <textarea> of JSON
//
// The server has the last word on validation (the form is `novalidate`):
// its errors come back as `{code, message, field}` and are shown next to the
// field named by `field` (dotted for nested fields), or above the form.

import { h, humanize, own } from "./dom.js";

/** What a field's `read()` answers when the field is to be left out of `data`. */
const OMIT = Symbol("omit");

/**
 * @param form       the descriptor's `form`: {schema, ui_schema, data}
 * @param errors     the descriptor's `errors`
 * @param submitLabel, buttons (extra nodes after the submit button), onSubmit(data)
 * @returns {element, unplacedErrors, firstInvalid, setBusy(busy)}
 */
export function renderForm(form, options) {
  const { errors = [], submitLabel = "Continue", buttons = [], onSubmit } = options;
  const ctx = new FormContext(errors);
  const schema = form?.schema ?? {};
  const fields = objectFields(schema, form?.ui_schema ?? {}, form?.data ?? {}, "", ctx);

  const submit = h("button", { type: "submit", class: "primary" }, submitLabel);
  const element = h(
    "form",
    { class: "step-form", novalidate: true },
    ctx.anyRequired &&
      h("p", { class: "hint" }, "Fields marked ", requiredMark({ hidden: false }), " are required."),
    fields.map((field) => field.node),
    h("div", { class: "buttons" }, submit, buttons),
  );
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit(collect(fields));
  });

  return {
    element,
    unplacedErrors: errors.filter((error) => !ctx.placed.has(error)),
    firstInvalid: ctx.invalid[0] ?? null,
    setBusy(busy) {
      element.toggleAttribute("aria-busy", busy);
      for (const button of element.querySelectorAll("button")) button.disabled = busy;
    },
  };
}

// -- bookkeeping shared by the fields of one form ------------------------------------------------

class FormContext {
  constructor(errors) {
    this.errors = errors.filter((error) => typeof error?.field === "string");
    this.placed = new Set(); // errors shown next to a field
    this.invalid = []; // controls with errors, in document order
    this.ids = new Set();
    this.anyRequired = false;
  }

  /** A unique, valid id for the field at `path`. */
  idFor(path) {
    const base = `field-${path.replace(/[^A-Za-z0-9_-]+/g, "-") || "root"}`;
    let id = base;
    for (let n = 2; this.ids.has(id); n++) id = `${base}-${n}`;
    this.ids.add(id);
    return id;
  }

  /** The messages for `path` (and, for a leaf, for anything below it), marked as shown. */
  take(path, { below = true } = {}) {
    const mine = this.errors.filter(
      (error) =>
        !this.placed.has(error) &&
        (error.field === path || (below && error.field.startsWith(`${path}.`))),
    );
    for (const error of mine) this.placed.add(error);
    return mine.map((error) => error.message);
  }
}

// -- objects ------------------------------------------------------------------------------------

function objectFields(schema, ui, data, prefix, ctx) {
  const properties = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  return ordered(Object.keys(properties), ui["ui:order"]).map((name) => {
    const path = prefix ? `${prefix}.${name}` : name;
    const value = data && Object.hasOwn(data, name) ? data[name] : properties[name].default;
    const schemaOf = properties[name];
    const field = buildField(name, schemaOf, ui[name] ?? {}, value, path, required.has(name), ctx);
    return { name, ...field };
  });
}

/** `names` in `ui:order` (with react-jsonschema-form's "*" for the rest). */
function ordered(names, order) {
  if (!Array.isArray(order)) return names;
  const rest = names.filter((name) => !order.includes(name));
  const result = [];
  for (const name of order) {
    if (name === "*") result.push(...rest);
    else if (names.includes(name)) result.push(name);
  }
  if (!order.includes("*")) result.push(...rest);
  return result;
}

function collect(fields) {
  const data = {};
  for (const field of fields) {
    const value = field.read();
    if (value !== OMIT) data[field.name] = value;
  }
  return data;
}

function objectField(name, schema, ui, value, path, required, ctx) {
  const info = describe(name, schema, ui, path, required, ctx, { below: false });
  const before = ctx.invalid.length; // where this object's controls start, in document order
  const children = objectFields(schema, ui, value ?? {}, path, ctx);
  const node = h(
    "fieldset",
    { class: "field group", "data-field": path, "aria-describedby": info.describedBy },
    h("legend", {}, info.label, required && requiredMark()),
    helpNode(info),
    errorNode(info),
    children.map((child) => child.node),
  );
  // An error on the whole object (its `validate()`): its first control is where to fix it.
  const first = node.querySelector("input:not([type=hidden]), select, textarea");
  if (info.invalid && first) ctx.invalid.splice(before, 0, first);
  const read = () => {
    const data = collect(children);
    return Object.keys(data).length || required ? data : OMIT;
  };
  return { node, read };
}

// -- choosing a widget --------------------------------------------------------------------------

function buildField(name, schema, ui, value, path, required, ctx) {
  const type = typeOf(schema);
  // A checkbox cannot say "no answer": a nullable boolean is a choice of yes, no or null.
  const choices = choicesOf(schema) ?? (type === "boolean" && takesNull(schema) ? YES_NO : null);
  // A checkbox is always sent (unchecked is `false`), so it is never "required".
  if (required && (type !== "boolean" || choices)) ctx.anyRequired = true;
  const widget = ui["ui:widget"];
  if (widget === "hidden") return hiddenField(schema, value, path);
  if (type === "object" && schema.properties) {
    return objectField(name, schema, ui, value, path, required, ctx);
  }
  if (type === "array" && choicesOf(schema.items ?? {})) {
    return checkboxGroup(name, schema, ui, value, path, required, ctx);
  }
  if (choices) {
    return widget === "radio"
      ? radioGroup(name, schema, ui, choices, value, path, required, ctx)
      : selectField(name, schema, ui, choices, value, path, required, ctx);
  }
  if (type === "boolean") return checkboxField(name, schema, ui, value, path, required, ctx);
  if (type === "integer" || type === "number") {
    return numberField(name, schema, ui, type, value, path, required, ctx);
  }
  if (type === "array" && SCALARS.has(typeOf(schema.items ?? {}))) {
    return linesField(name, schema, ui, value, path, required, ctx);
  }
  if (type === "string") return textField(name, schema, ui, value, path, required, ctx);
  return jsonField(name, schema, ui, value, path, required, ctx);
}

const SCALARS = new Set(["string", "integer", "number"]);

const YES_NO = [
  { value: true, label: "Yes" },
  { value: false, label: "No" },
];

/** The schema's type, nullable or not (`["string", "null"]` → "string"). */
function typeOf(schema) {
  const type = schema.type;
  return Array.isArray(type) ? type.find((t) => t !== "null") : type;
}

/** Whether null is a value of the schema (a field with `allow_null`). */
function takesNull(schema) {
  const isNull = (option) => option.type === "null" || option.const === null;
  return (
    (Array.isArray(schema.type) && schema.type.includes("null")) ||
    (Array.isArray(schema.enum) && schema.enum.includes(null)) ||
    (Array.isArray(schema.oneOf) && schema.oneOf.some(isNull))
  );
}

/** `[{value, label}]` from `oneOf: [{const, title}]` or `enum`, else null. */
function choicesOf(schema) {
  if (Array.isArray(schema.oneOf) && schema.oneOf.some((option) => "const" in option)) {
    return schema.oneOf
      .filter((option) => "const" in option && option.const !== null)
      .map((option) => ({ value: option.const, label: option.title ?? String(option.const) }));
  }
  if (Array.isArray(schema.enum)) {
    return schema.enum.filter((v) => v !== null).map((v) => ({ value: v, label: String(v) }));
  }
  return null;
}

// -- what every field has: label, help, errors --------------------------------------------------

function describe(name, schema, ui, path, required, ctx, { below = true } = {}) {
  const id = ctx.idFor(path);
  const help = [schema.description, ui["ui:help"]].filter(Boolean);
  const messages = ctx.take(path, { below });
  const helpId = help.length ? `${id}-help` : null;
  const errorId = messages.length ? `${id}-error` : null;
  return {
    id,
    label: ui["ui:title"] ?? schema.title ?? humanize(name),
    help,
    helpId,
    messages,
    errorId,
    required,
    invalid: messages.length > 0,
    describedBy: [helpId, errorId].filter(Boolean).join(" ") || null,
  };
}

/** The red "*" of required fields: hidden from screen readers, who hear `required` instead. */
function requiredMark({ hidden = true } = {}) {
  return h("span", { class: "required", "aria-hidden": hidden ? "true" : null }, "*");
}

function labelNode(info) {
  return h("label", { for: info.id }, info.label, info.required && requiredMark());
}

function helpNode(info) {
  if (!info.helpId) return null;
  return h("div", { class: "help", id: info.helpId }, info.help.map((text) => h("p", {}, text)));
}

function errorNode(info) {
  if (!info.errorId) return null;
  const prefix = () => h("span", { class: "visually-hidden" }, "Error: ");
  return h(
    "div",
    { class: "field-error", id: info.errorId },
    info.messages.map((message) => h("p", {}, prefix(), message)),
  );
}

/** The attributes every control gets: id, name, required, described-by, invalid. */
function controlProps(info, path, ui) {
  return {
    id: info.id,
    name: path,
    required: info.required,
    "aria-describedby": info.describedBy,
    "aria-invalid": info.invalid ? "true" : null,
    disabled: ui["ui:disabled"] === true,
    readonly: ui["ui:readonly"] === true,
    placeholder: ui["ui:placeholder"],
    autocomplete: ui["ui:autocomplete"],
    autofocus: ui["ui:autofocus"] === true,
  };
}

/** A labelled single control: label, control, help, errors. */
function single(info, path, control, { labelAfter = false } = {}) {
  return h(
    "div",
    {
      class: ["field", labelAfter && "inline", info.invalid && "invalid"].filter(Boolean).join(" "),
      "data-field": path,
    },
    labelAfter ? [control, labelNode(info)] : [labelNode(info), control],
    helpNode(info),
    errorNode(info),
  );
}

function noteInvalid(info, ctx, control) {
  if (info.invalid) ctx.invalid.push(control);
}

// -- the widgets --------------------------------------------------------------------------------

const INPUT_TYPES = {
  email: "email",
  uri: "url",
  date: "date",
  "date-time": "datetime-local",
  time: "time",
  password: "password",
};

function textField(name, schema, ui, value, path, required, ctx) {
  const info = describe(name, schema, ui, path, required, ctx);
  const widget = ui["ui:widget"];
  const props = controlProps(info, path, ui);
  let control;
  if (widget === "textarea") {
    control = h("textarea", { ...props, rows: ui["ui:options"]?.rows ?? 4, value: value ?? "" });
  } else {
    const type = widget === "password" ? "password" : (own(INPUT_TYPES, schema.format) ?? "text");
    const shown = type === "datetime-local" ? localDateTime(value) : value;
    control = h("input", { ...props, type, value: shown ?? "" });
  }
  noteInvalid(info, ctx, control);
  // Left empty, a required field that may be blank is sent as "", which is
  // its value, rather than left out, which the server refuses as missing.
  const empty = required && takesEmpty(schema) ? "" : OMIT;
  const read = () => {
    if (control.value === "") return empty;
    return schema.format === "date-time" ? instant(control.value) : control.value;
  };
  return { node: single(info, path, control), read };
}

/** Formats "" is never one of (the date and time inputs answer "" when empty). */
const NEVER_EMPTY = new Set(["date", "date-time", "time", "uuid"]);

/** Whether "" satisfies a string schema: no `minLength`, no format or pattern it fails. */
function takesEmpty(schema) {
  if (schema.minLength > 0 || NEVER_EMPTY.has(schema.format)) return false;
  try {
    return !schema.pattern || new RegExp(schema.pattern, "u").test("");
  } catch {
    return true; // a pattern this browser cannot read: the server will say
  }
}

/**
 * "2026-11-22T08:00:00Z" → "2026-11-22T09:00" in Paris: what datetime-local
 * takes is the user's wall time, and the server's value is an instant.
 */
function localDateTime(value) {
  const date = new Date(value ?? "");
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  const year = String(date.getFullYear()).padStart(4, "0");
  const day = `${year}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const seconds = date.getSeconds() ? `:${pad(date.getSeconds())}` : "";
  return `${day}T${pad(date.getHours())}:${pad(date.getMinutes())}${seconds}`;
}

/**
 * The user's wall time (datetime-local) as an instant with its offset:
 * without one, the server would read it in its own time zone.
 */
function instant(value) {
  const date = new Date(value); // a date-time without an offset is local time
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

function numberField(name, schema, ui, type, value, path, required, ctx) {
  const info = describe(name, schema, ui, path, required, ctx);
  const control = h("input", {
    ...controlProps(info, path, ui),
    type: "number",
    step: type === "integer" ? "1" : "any",
    inputmode: type === "integer" ? "numeric" : "decimal",
    min: schema.minimum,
    max: schema.maximum,
    value: value ?? "",
  });
  noteInvalid(info, ctx, control);
  const read = () => {
    if (control.value === "") return OMIT;
    const number = Number(control.value);
    // Beyond 2**53 a number is rounded; the digits as typed are exact, and DRF
    // takes an integer as a string.
    if (type === "integer" && Number.isInteger(number) && !Number.isSafeInteger(number)) {
      return control.value;
    }
    return Number.isFinite(number) ? number : control.value;
  };
  return { node: single(info, path, control), read };
}

function checkboxField(name, schema, ui, value, path, required, ctx) {
  const info = describe(name, schema, ui, path, false, ctx);
  const props = { ...controlProps(info, path, ui), type: "checkbox", checked: value === true };
  const control = h("input", props);
  noteInvalid(info, ctx, control);
  return { node: single(info, path, control, { labelAfter: true }), read: () => control.checked };
}

function selectField(name, schema, ui, choices, value, path, required, ctx) {
  const info = describe(name, schema, ui, path, required, ctx);
  const current = choices.findIndex((choice) => choice.value === value);
  // Nothing is chosen until the user chooses; "—" leaves an optional field
  // out, and is null for a nullable one (which may be required: null is a value).
  const nullable = takesNull(schema);
  const control = h(
    "select",
    controlProps(info, path, ui),
    (current < 0 || !required || nullable) &&
      h("option", { value: "" }, required && !nullable ? "Choose…" : "—"),
    choices.map((choice, i) => h("option", { value: String(i) }, choice.label || "(empty)")),
  );
  control.value = current < 0 ? "" : String(current);
  noteInvalid(info, ctx, control);
  const none = nullable ? null : OMIT;
  const read = () => (control.value === "" ? none : choices[Number(control.value)].value);
  return { node: single(info, path, control), read };
}

/** A fieldset of radios or checkboxes, with its legend as the group's label. */
function group(info, path, inputs) {
  return h(
    "fieldset",
    {
      class: `field choices${info.invalid ? " invalid" : ""}`,
      "data-field": path,
      "aria-describedby": info.describedBy,
    },
    h(
      "legend",
      {},
      info.label,
      info.required && [requiredMark(), h("span", { class: "visually-hidden" }, " (required)")],
    ),
    helpNode(info),
    h("div", { class: "options" }, inputs),
    errorNode(info),
  );
}

function optionInputs(info, path, ui, choices, type, isChecked) {
  return choices.map((choice, index) => {
    const input = h("input", {
      type,
      id: `${info.id}-${index}`,
      name: path,
      value: String(index),
      checked: isChecked(choice.value),
      required: type === "radio" && info.required,
      "aria-invalid": info.invalid ? "true" : null,
      disabled: ui["ui:disabled"] === true,
    });
    const label = h("label", { for: input.id }, choice.label || "(empty)");
    return { input, node: h("div", { class: "option" }, input, label) };
  });
}

function radioGroup(name, schema, ui, choices, value, path, required, ctx) {
  const info = describe(name, schema, ui, path, required, ctx);
  const options = optionInputs(info, path, ui, choices, "radio", (v) => v === value);
  const focusable = options.find((o) => o.input.checked) ?? options[0];
  if (focusable) noteInvalid(info, ctx, focusable.input);
  const read = () => {
    const chosen = options.findIndex((option) => option.input.checked);
    if (chosen >= 0) return choices[chosen].value;
    return takesNull(schema) ? null : OMIT;
  };
  return { node: group(info, path, options.map((o) => o.node)), read };
}

function checkboxGroup(name, schema, ui, value, path, required, ctx) {
  const info = describe(name, schema, ui, path, required, ctx);
  const choices = choicesOf(schema.items);
  const chosen = Array.isArray(value) ? value : [];
  const options = optionInputs(info, path, ui, choices, "checkbox", (v) => chosen.includes(v));
  if (options.length) noteInvalid(info, ctx, options[0].input);
  // Always sent, as a list: none chosen is `[]`.
  const read = () => choices.filter((_, index) => options[index].input.checked).map((c) => c.value);
  return { node: group(info, path, options.map((o) => o.node)), read };
}

function linesField(name, schema, ui, value, path, required, ctx) {
  const info = describe(name, schema, ui, path, required, ctx);
  info.help.push("One per line.");
  info.helpId ??= `${info.id}-help`;
  info.describedBy = [info.helpId, info.errorId].filter(Boolean).join(" ");
  const numeric = typeOf(schema.items) !== "string";
  const lines = Array.isArray(value) ? value.map(String).join("\n") : "";
  const control = h("textarea", { ...controlProps(info, path, ui), rows: 4, value: lines });
  noteInvalid(info, ctx, control);
  const read = () => {
    const items = control.value.split("\n").map((line) => line.trim()).filter(Boolean);
    if (!items.length && !required) return OMIT;
    if (!numeric) return items;
    return items.map((item) => (Number.isFinite(Number(item)) ? Number(item) : item));
  };
  return { node: single(info, path, control), read };
}

function jsonField(name, schema, ui, value, path, required, ctx) {
  const info = describe(name, schema, ui, path, required, ctx);
  info.help.push("As JSON.");
  info.helpId ??= `${info.id}-help`;
  info.describedBy = [info.helpId, info.errorId].filter(Boolean).join(" ");
  const text = value === undefined ? "" : JSON.stringify(value, null, 2);
  const props = { ...controlProps(info, path, ui), rows: 4, class: "code", value: text };
  const control = h("textarea", props);
  noteInvalid(info, ctx, control);
  const read = () => {
    if (control.value.trim() === "") return OMIT;
    try {
      return JSON.parse(control.value);
    } catch {
      return control.value; // let the server say what is wrong with it
    }
  };
  return { node: single(info, path, control), read };
}

function hiddenField(schema, value, path) {
  const control = h("input", { type: "hidden", name: path, value: value ?? "" });
  return { node: control, read: () => (value === undefined ? OMIT : value) };
}
