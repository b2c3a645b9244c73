// The dashboard's only data path: the /v1 JSON API, called with the session cookie.

export class ApiError extends Error {
  constructor(status, body, path) {
    const err = (body && body.error) || {};
    super(err.message || `request failed with status ${status}`);
    this.status = status;
    this.code = err.code || "error";
    this.field = err.field || null;
    this.hint = err.hint || null;
    this.details = err.details || [];
    this.path = path;
  }
}

function toLogin() {
  const here = location.pathname + location.search;
  location.assign("/?reason=expired&next=" + encodeURIComponent(here));
}

/**
 * Call the API. `query` values that are null, undefined or "" are left out.
 * Answers the parsed JSON (null for 204); throws ApiError for error answers and network failures.
 */
export async function api(path, { method = "GET", body, query, redirectOn401 = true } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, String(v));
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, { error: { code: "network", message: "the server could not be reached",
      hint: "Check that `marketloop serve` is running, then reload." } }, path);
  }
  if (res.status === 401 && redirectOn401) {
    toLogin();
    throw new ApiError(401, null, path);
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) throw new ApiError(res.status, data, path);
  return data;
}

export const get = (path, query) => api(path, { query });
export const post = (path, body) => api(path, { method: "POST", body: body === undefined ? {} : body });
export const del = (path) => api(path, { method: "DELETE" });

/** True when the error says the route itself does not exist on this server (not an unknown id). */
export function isMissingRoute(err) {
  return err instanceof ApiError && err.status === 404 && /^no route /.test(err.message);
}
