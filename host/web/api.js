// One way to call repbook's API from the pages: JSON in and out, the admin session's CSRF token on every
// change, and a refusal turned into the API's own message (or a plain one when the server cannot be reached).

let csrf = null;

// The admin page's session token for state-changing requests (null: signed out).
export function setCsrf(token) {
  csrf = token;
}

// call("POST", "/api/v1/clinics", body) -> { ok: true, data } or { ok: false, status, code, message }.
// `raw` sends bytes as they are ({ type, body }) instead of JSON.
export async function call(method, path, body, raw) {
  const headers = { Accept: "application/json" };
  const options = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  if (raw) {
    headers["Content-Type"] = raw.type;
    options.body = raw.body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    return { ok: false, message: "The server cannot be reached; check your connection and try again." };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : {};
    return {
      ok: false,
      status: response.status,
      code: error.code || null,
      message: error.message || `The request failed (HTTP ${response.status}).`,
    };
  }
  return { ok: true, data };
}
