// The JSON API as the pages use it: the session cookie authenticates, with the page's form
// token beside it on every request that changes something (X-CSRF-Token); errors come back
// as `{"detail": "message en français"}` (or a list of field issues for a 422).

/** The page's form token (from its <meta name="csrf-token">), "" when signed out. */
export function formToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** Headers that let a state-changing request through: the form token. */
export function tokenHeaders() {
  const token = formToken();
  return token ? { "X-CSRF-Token": token } : {};
}

/** The user-facing message of an error body, else `fallback`. */
export function detailOf(bodyText, fallback) {
  let body;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return fallback;
  }
  const detail = body && body.detail;
  if (typeof detail === "string" && detail.trim()) return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail
      .map((issue) => {
        const field = Array.isArray(issue.loc) ? issue.loc.slice(1).join(".") : "";
        return field ? `${field} : ${issue.msg}` : String(issue.msg);
      })
      .join(" ; ");
  }
  return fallback;
}

/** GET a JSON document; throws an Error whose message is the server's detail. */
export async function getJSON(url, fallback) {
  const response = await fetch(url, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
    cache: "no-store",
  });
  const text = await response.text();
  if (!response.ok) throw new Error(detailOf(text, `${fallback} (${response.status})`));
  return JSON.parse(text);
}

/** POST without a body; throws an Error whose message is the server's detail. */
export async function post(url, fallback) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { Accept: "application/json", ...tokenHeaders() },
      credentials: "same-origin",
    });
  } catch {
    throw new Error(fallback);
  }
  if (!response.ok) {
    throw new Error(detailOf(await response.text(), `${fallback} (${response.status})`));
  }
}

/** Send a JSON body (POST, PATCH, PUT, DELETE) with any extra `headers`: `{ok, status,
 * data}`, the body parsed when it is JSON; throws an Error(`fallback`) only when the server
 * could not be reached. */
export async function sendJSON(method, url, body, fallback, headers = {}) {
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: { Accept: "application/json", "Content-Type": "application/json", ...tokenHeaders(), ...headers },
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Error(fallback);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { ok: response.ok, status: response.status, data, detail: detailOf(text, `${fallback} (${response.status})`) };
}
