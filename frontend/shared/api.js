// The one API client: session auth + CSRF, JSON in and out, typed errors, retries for transient failures.

export const boot = JSON.parse(document.getElementById("boot")?.textContent || "{}");

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** An error from the API, carrying the HTTP status and the decoded body (field-level messages). */
export class ApiError extends Error {
  constructor(status, body, url) {
    super(ApiError.describe(status, body));
    this.status = status;
    this.body = body;
    this.url = url;
  }

  static describe(status, body) {
    if (body && typeof body === "object") {
      if (body.detail) return String(body.detail);
      const parts = Object.entries(body).map(([key, value]) => `${key}: ${[].concat(value).join(" ")}`);
      if (parts.length) return parts.join("; ");
    }
    if (status === 0) return "The server cannot be reached.";
    return `Request failed (${status}).`;
  }

  get transient() {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Call the API. `path` is relative to /api/ unless it starts with "/".
 * Options: method, body (JSON-encoded unless FormData), headers, retries (transient failures only),
 * signal, raw (return the Response instead of decoded JSON).
 */
export async function api(path, { method = "GET", body, headers = {}, retries = 2, signal, raw = false } = {}) {
  const url = path.startsWith("/") || path.startsWith("http") ? path : `${boot.api || "/api/"}${path}`;
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin", signal };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRFToken"] = csrfToken();
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      response = null;
    }
    if (response && response.ok) {
      if (raw) return response;
      if (response.status === 204) return null;
      const type = response.headers.get("Content-Type") || "";
      return type.includes("json") ? response.json() : response.text();
    }
    const status = response ? response.status : 0;
    let data = null;
    if (response) {
      try { data = await response.json(); } catch { data = null; }
    }
    const error = new ApiError(status, data, url);
    if (!error.transient || attempt >= retries) throw error;
    await sleep(300 * 2 ** attempt);
  }
}

/** Every page of a paginated list (cursor or page-number), following `next` links. */
export async function apiAll(path, { limit = 100000 } = {}) {
  const items = [];
  let next = path;
  while (next && items.length < limit) {
    const page = await api(next);
    if (Array.isArray(page)) return page;
    items.push(...(page.results || []));
    next = page.next || null;
  }
  return items;
}

/** The one place that knows where a frame's image lives: the API's (signed) URL when it gives one. */
export function frameImageUrl(frame) {
  return frame.image_url || `${boot.api || "/api/"}frames/${frame.id}/image/`;
}

/** A query string from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
