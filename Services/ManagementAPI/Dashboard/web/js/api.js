// The management API client: JSON in and out, the bearer token on every call, `If-Match` for guarded
// writes, and one error type whose `message` is readable by a person (412 conflicts, validation details).

export const API_BASE = '/api/v1';

/** Encodes each interpolated value as one path segment: path`/projects/${key}/flags`. */
export function path(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => { out += encodeURIComponent(String(v)) + strings[i + 1]; });
  return out;
}

/**
 * `a=1&b=x%20y`: values percent-encoded with encodeURIComponent (a space is %20, never '+', which the server
 * would keep as a plus sign); empty, null and undefined values are left out.
 */
export function queryString(params) {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
}

/** A failed API call: `status` (0 when the server was not reached), `code`, `details` [{path, message}]. */
export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }

  get isConflict() { return this.status === 412; }

  /** One readable paragraph, with each validation problem and its JSON path. */
  get readable() {
    if (!this.details.length) return this.message;
    return `${this.message}: ${this.details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ')}`;
  }
}

/** The message of a 412 shown to people. */
export const CONFLICT_MESSAGE =
  'Someone else changed this while you were editing, so nothing was saved. '
  + 'Review their change (reload), then make yours again.';

export async function errorFrom(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  if (response.status === 412) {
    return new ApiError(412, 'precondition_failed', CONFLICT_MESSAGE + (body?.message ? ` (${body.message})` : ''));
  }
  if (body && typeof body.message === 'string') {
    return new ApiError(response.status, body.code || 'error', body.message, Array.isArray(body.details) ? body.details : []);
  }
  return new ApiError(response.status, 'error', `the server answered ${response.status} ${response.statusText}`.trim());
}

/**
 * createApi({token: () => string|null, onUnauthorized: () => void, fetch?})
 * Each method resolves to {data, etag, status} or rejects with ApiError.
 */
export function createApi({ token, onUnauthorized = () => {}, fetch: fetchImpl = globalThis.fetch.bind(globalThis) }) {
  async function request(method, url, { body, ifMatch, ifNoneMatch, query, comment, signal } = {}) {
    const headers = { Accept: 'application/json' };
    const secret = token();
    if (secret) headers.Authorization = `Bearer ${secret}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (ifMatch !== undefined && ifMatch !== null) headers['If-Match'] = `"${ifMatch}"`;
    if (ifNoneMatch) headers['If-None-Match'] = ifNoneMatch;
    const qs = queryString({ ...(query || {}), comment });
    let response;
    try {
      response = await fetchImpl(API_BASE + url + (qs ? `?${qs}` : ''), {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection; the page retries by itself.');
    }
    if (response.status === 401) onUnauthorized();
    if (response.status === 304) return { data: null, etag: response.headers.get('ETag'), status: 304 };
    if (!response.ok) throw await errorFrom(response);
    const text = response.status === 204 ? '' : await response.text();
    return { data: text ? JSON.parse(text) : null, etag: response.headers.get('ETag'), status: response.status };
  }
  return {
    request,
    get: (url, options) => request('GET', url, options),
    post: (url, body, options) => request('POST', url, { ...options, body }),
    put: (url, body, options) => request('PUT', url, { ...options, body }),
    patch: (url, body, options) => request('PATCH', url, { ...options, body }),
    del: (url, options) => request('DELETE', url, options),
  };
}

/** The version number in an ETag (`"7"` → 7). */
export function versionOf(etag) {
  if (!etag) return null;
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(etag.trim());
  return m ? Number(m[1]) : null;
}
