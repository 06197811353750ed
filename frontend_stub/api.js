// The one module that talks to the backend (see backend/pipeline/README.md).
//
// Every call answers `{ status, data, retryAfter }`: the HTTP status, the
// parsed JSON body (a descriptor, an error envelope, or null for 204), and
// the Retry-After header (of a 429 or 503), or null. Only a network
// failure throws (`ApiUnreachable`); HTTP errors are answers like any other,
// because for this protocol a 400, 409 or 410 carries what to show next.

const STORAGE_KEY = "pipelines.api";

/**
 * The API's origin: `?api=http://localhost:8000` (remembered for this tab in
 * sessionStorage), or "" for the app's own origin. `?api=` with no value
 * forgets it.
 */
export const apiBase = resolveApiBase();

function resolveApiBase() {
  const params = new URLSearchParams(location.search);
  if (params.has("api")) {
    const origin = originOf(params.get("api"));
    if (origin === null) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, origin);
  }
  return sessionStorage.getItem(STORAGE_KEY) ?? "";
}

function originOf(value) {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.origin : null;
  } catch {
    return null;
  }
}

/** Absolute URL of an API path (the hrefs of `actions` are paths like `/api/pipelines/<id>/`). */
export function apiUrl(path) {
  return new URL(path, apiBase || location.origin).href;
}

export class ApiUnreachable extends Error {
  constructor(cause) {
    super(`The API at ${apiBase || location.origin} could not be reached.`);
    this.cause = cause;
  }
}

// -- CSRF ---------------------------------------------------------------------------------------
// Django wants its CSRF token in X-CSRFToken on every unsafe request, logged
// in or not. On another origin the app cannot read the cookie, so the token
// comes from the JSON body of GET /api/auth/csrf/ (which also sets the cookie).

let csrfToken = null;

async function csrf() {
  if (csrfToken === null) {
    const { status, data } = await send("GET", "/api/auth/csrf/");
    if (status !== 200 || typeof data?.csrf_token !== "string") {
      throw new ApiUnreachable(new Error(`GET /api/auth/csrf/ answered ${status}`));
    }
    csrfToken = data.csrf_token;
  }
  return csrfToken;
}

/** Logging in or out rotates the token: fetch a fresh one next time. */
export function forgetCsrfToken() {
  csrfToken = null;
}

// -- requests -----------------------------------------------------------------------------------

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** `method` `path` with the JSON `body`; retries once if the CSRF token went stale. */
export async function request(method, path, body) {
  method = method.toUpperCase();
  if (SAFE_METHODS.has(method)) return send(method, path, body);
  let answer = await send(method, path, body, await csrf());
  if (answer.status === 403 && answer.data?.error?.code === "csrf_failed") {
    forgetCsrfToken();
    answer = await send(method, path, body, await csrf());
  }
  return answer;
}

async function send(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["X-CSRFToken"] = token;
  let response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "include", // the session cookie, also from another origin
    });
  } catch (error) {
    throw new ApiUnreachable(error);
  }
  const retryAfter = response.headers.get("Retry-After");
  return { status: response.status, data: await jsonOf(response), retryAfter };
}

async function jsonOf(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    // Not the API (a proxy's error page, say): make it look like an envelope.
    return {
      error: { code: "bad_response", message: `Unexpected answer (HTTP ${response.status}).` },
    };
  }
}

// -- the endpoints ------------------------------------------------------------------------------

export const api = {
  me: () => request("GET", "/api/auth/me/"),
  login: (username, password) => request("POST", "/api/auth/login/", { username, password }),
  logout: () => request("POST", "/api/auth/logout/"),
  catalog: () => request("GET", "/api/pipelines/"),
  start: (pipeline, provider, returnTo) =>
    request("POST", "/api/pipelines/", { pipeline, provider, return_to: returnTo }),
  show: (id) => request("GET", `/api/pipelines/${encodeURIComponent(id)}/`),
  /** Runs one of a descriptor's `actions` as given: its method, its href. */
  act: (action, body) => request(action.method, action.href, body),
};
