// The Shoebox API from the browser: JSON calls with the bearer token, and uploads straight to S3.

/** A failure the page can explain: `code` and `message` come from the server when it said. */
export class ApiError extends Error {
  constructor(status, code, message, details = {}, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter; // seconds, from a 429's Retry-After
  }
}

async function errorFrom(response) {
  let code = `HTTP_${response.status}`;
  let message = response.statusText || "request failed";
  let details = {};
  try {
    const body = await response.json();
    if (body && typeof body.error === "object" && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
      details = body.error.details || {};
    } else if (body && body.message) {
      message = body.message; // API Gateway's own bodies (e.g. its JWT authorizer's 401)
    }
  } catch {
    // Not JSON: keep the status line.
  }
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  return new ApiError(response.status, code, message, details, Number.isNaN(retryAfter) ? null : retryAfter);
}

/**
 * A client of the API at `baseUrl`. `getToken()` is read on every call, so signing in or out
 * takes effect at once; `onUnauthorized(error)` runs on any 401.
 */
export function createApi(baseUrl, getToken, onUnauthorized) {
  const base = baseUrl.replace(/\/+$/, "");

  async function request(method, path, body) {
    const headers = { Accept: "application/json" };
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (cause) {
      throw new ApiError(0, "NETWORK_ERROR", `Cannot reach the API at ${base} (${cause.message}).`);
    }
    if (!response.ok) {
      const error = await errorFrom(response);
      if (response.status === 401) onUnauthorized(error);
      throw error;
    }
    return response.status === 204 ? null : response.json();
  }

  const image = (id) => `/v1/images/${encodeURIComponent(id)}`;
  const upload = (id) => `/v1/uploads/${encodeURIComponent(id)}`;
  return {
    localToken: (sub) => request("POST", "/_local/token", { sub }),
    /** 201 {image, upload}, or 200 {image, duplicate: true} for bytes the user has READY. */
    createUpload: ({ filename, contentType, size, sha256, method }) =>
      request("POST", "/v1/uploads", { filename, content_type: contentType, size, sha256, method }),
    /** A PENDING upload: the parts S3 holds ({number, size, etag}) and URLs for the rest. */
    getUpload: (id) => request("GET", upload(id)),
    completeUpload: (id, parts) => request("POST", `${upload(id)}/complete`, { parts }),
    cancelUpload: (id) => request("DELETE", upload(id)),
    usage: () => request("GET", "/v1/usage"),
    listImages: (cursor, limit = 24) => {
      const query = new URLSearchParams({ limit: String(limit) });
      if (cursor) query.set("cursor", cursor);
      return request("GET", `/v1/images?${query}`);
    },
    /** The user's images among `ids` (at most 100) in one request: unknown ids are left out. */
    imagesByIds: (ids) => request("GET", `/v1/images?${new URLSearchParams({ ids: ids.join(",") })}`),
    getImage: (id) => request("GET", image(id)),
    deleteImage: (id) => request("DELETE", image(id)),
    createShare: (id, expiresIn) => request("POST", `${image(id)}/shares`, { expires_in: expiresIn }),
    listShares: (id) => request("GET", `${image(id)}/shares`),
    deleteShare: (shareId) => request("DELETE", `/v1/shares/${encodeURIComponent(shareId)}`),
  };
}

/** S3 explains a refusal in XML: <Error><Code>…</Code><Message>…</Message></Error>. */
function storageRefusal(xhr) {
  let code = `HTTP_${xhr.status}`;
  let message = xhr.statusText || "the storage service refused the upload";
  const doc = new DOMParser().parseFromString(xhr.responseText || "", "application/xml");
  const xmlCode = doc.querySelector("Error > Code");
  if (xmlCode) {
    code = xmlCode.textContent.trim();
    message = doc.querySelector("Error > Message")?.textContent.trim() || message;
  }
  return new ApiError(xhr.status, code, message);
}

/**
 * One request to storage through XMLHttpRequest, not fetch: only XHR reports upload progress in
 * every browser. `onProgress(sent, total)` follows the body's bytes; an aborted `signal` stops it.
 * Resolves with the finished XHR.
 */
function sendToStorage(method, url, headers, body, onProgress, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const xhr = new XMLHttpRequest();
    const abort = () => xhr.abort();
    signal?.addEventListener("abort", abort, { once: true });
    const settle = (outcome, value) => {
      signal?.removeEventListener("abort", abort);
      outcome(value);
    };
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) settle(resolve, xhr);
      else settle(reject, storageRefusal(xhr));
    };
    xhr.onerror = () =>
      settle(
        reject,
        new ApiError(
          0,
          "NETWORK_ERROR",
          "The upload to storage failed: network error, or storage does not allow this page's origin (CORS).",
        ),
      );
    xhr.onabort = () => settle(reject, signal?.reason ?? new ApiError(0, "ABORTED", "The upload was cancelled."));
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.send(body);
  });
}

/**
 * Send `file` with the Upload document the API returned (presigned POST, or PUT). Resolves when
 * S3 has stored it; `onProgress(fraction)` follows the bytes sent.
 */
export async function uploadToStorage(upload, file, onProgress, signal) {
  const progress = (sent, total) => onProgress(sent / total);
  if (upload.method === "PUT") {
    await sendToStorage("PUT", upload.url, upload.headers || {}, file, progress, signal);
  } else {
    // Every policy field first, the file last: S3 ignores fields that follow the file.
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append("file", file);
    await sendToStorage("POST", upload.url, {}, form, progress, signal);
  }
  onProgress(1);
}

/** PUT one part of a multipart upload (`blob`, a slice of the file); resolves with S3's ETag. */
export async function putPart(url, blob, onProgress, signal) {
  const xhr = await sendToStorage("PUT", url, {}, blob, onProgress, signal);
  const etag = xhr.getResponseHeader("ETag");
  if (!etag) {
    throw new ApiError(0, "NO_ETAG", "Storage did not show the part's ETag (its CORS rules must expose ETag).");
  }
  return etag;
}
