// vane.js: Vane's browser SDK. One dependency-free ES module whose API follows LaunchDarkly's
// JavaScript client SDK (initialize, waitForInitialization, variation, variationDetail, allFlags,
// identify, track, flush, close, on/off). It reads the relay's client-side endpoints: evalx (GET, or
// REPORT for large contexts) for the flags available to browsers, evaluated for one context, and
// the ping stream (EventSource): each ping refetches, debounced. Events (feature, summary,
// identify, custom) go to events-ingest's browser endpoint, and are sent on pagehide with
// fetch(keepalive) or sendBeacon. Docs: docs/sdks.md.

export const version = '0.1.0';

const MAX_GET_URL = 2000; // longer evalx URLs use REPORT (LaunchDarkly's SDK does the same)
const DEBOUNCE_MS = 20; // pings arriving together cause one refetch
const FLUSH_INTERVAL_MS = 2000; // LaunchDarkly's browser default
const EVENT_CAPACITY = 100;
const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function trimSlash(url) {
  return String(url).replace(/\/+$/, '');
}

function uuid() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function contextKinds(context) {
  if (!context || typeof context !== 'object') return [];
  if (context.kind === 'multi') return Object.keys(context).filter((k) => k !== 'kind').sort();
  return [context.kind || 'user'];
}

function checkContext(context) {
  if (!context || typeof context !== 'object' || Array.isArray(context)) throw new Error('vane: a context must be an object');
  if (context.kind === 'multi') {
    const kinds = contextKinds(context);
    if (!kinds.length) throw new Error('vane: a multi-kind context needs at least one kind');
    for (const k of kinds) checkContext({ ...context[k], kind: k });
  } else if (typeof context.key !== 'string' || (context.kind !== undefined && !context.key)) {
    throw new Error('vane: a context needs a string key');
  }
}

class VaneError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'VaneError';
    this.status = status;
  }
}

class Client {
  constructor(clientSideId, context, options = {}) {
    checkContext(context);
    this._id = clientSideId;
    this._context = context;
    this._hash = options.hash;
    this._base = trimSlash(options.baseUrl || 'http://localhost:8030');
    this._streamBase = trimSlash(options.streamUrl || this._base);
    this._eventsBase = trimSlash(options.eventsUrl || 'http://localhost:8040');
    this._streaming = options.streaming; // true, false, or undefined: stream once a change listener exists
    this._useReport = !!options.useReport;
    this._sendEvents = options.sendEvents !== false;
    this._flushMs = options.flushInterval || FLUSH_INTERVAL_MS;
    this._flags = {};
    this._listeners = new Map();
    this._events = [];
    this._summary = null;
    this._ready = false;
    this._failed = null;
    this._closed = false;
    this._source = null;
    this._reconnectMs = RECONNECT_MIN_MS;
    this._fetching = null;
    this._refetchAgain = false;
    this._debounce = null;
    this._initWaiters = [];

    if (this._sendEvents) {
      this._flushTimer = setInterval(() => this.flush(), this._flushMs);
      this._onPageHide = () => this._sendPending(true);
      globalThis.addEventListener && globalThis.addEventListener('pagehide', this._onPageHide);
      this._enqueue({ kind: 'identify', creationDate: Date.now(), context });
    }
    if (options.bootstrap && typeof options.bootstrap === 'object') {
      for (const [key, value] of Object.entries(options.bootstrap)) {
        if (!key.startsWith('$')) this._flags[key] = { value, variation: null, version: 0 };
      }
      this._bootstrapped = true;
      this._setReady();
    }
    this._refetch().then(() => this._setReady(), (error) => this._setFailed(error));
    if (this._streaming === true) this._connect();
  }

  // --- initialization -------------------------------------------------------------------------

  waitForInitialization(timeoutSeconds) {
    if (this._ready) return Promise.resolve();
    if (this._failed) return Promise.reject(this._failed);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, timer: null };
      if (timeoutSeconds !== undefined && timeoutSeconds !== null) {
        waiter.timer = setTimeout(() => {
          this._initWaiters = this._initWaiters.filter((w) => w !== waiter);
          reject(new VaneError(`vane: not initialized within ${timeoutSeconds} s`));
        }, timeoutSeconds * 1000);
      }
      this._initWaiters.push(waiter);
    });
  }

  waitUntilReady() {
    return this.waitForInitialization().catch(() => undefined);
  }

  _setReady() {
    if (this._ready || this._closed) return;
    this._ready = true;
    for (const w of this._initWaiters) {
      clearTimeout(w.timer);
      w.resolve();
    }
    this._initWaiters = [];
    this._emit('ready');
  }

  _setFailed(error) {
    this._emit('error', error);
    if (this._ready || this._failed) return;
    this._failed = error;
    for (const w of this._initWaiters) {
      clearTimeout(w.timer);
      w.reject(error);
    }
    this._initWaiters = [];
    this._emit('failed', error);
  }

  // --- evaluation ------------------------------------------------------------------------------

  variation(key, defaultValue) {
    return this._evaluate(key, defaultValue, false).value;
  }

  variationDetail(key, defaultValue) {
    return this._evaluate(key, defaultValue, true);
  }

  allFlags() {
    const all = {};
    for (const [key, flag] of Object.entries(this._flags)) all[key] = flag.value;
    return all;
  }

  _evaluate(key, defaultValue, withReason) {
    const flag = this._flags[key];
    let detail;
    if (!flag) {
      detail = { value: defaultValue ?? null, variationIndex: null,
        reason: { kind: 'ERROR', errorKind: this._ready ? 'FLAG_NOT_FOUND' : 'CLIENT_NOT_READY' } };
    } else {
      // No variation (an off flag without an off variation): the application's default.
      const value = flag.value === null || flag.value === undefined ? defaultValue ?? null : flag.value;
      detail = { value, variationIndex: flag.variation ?? null, reason: flag.reason || null };
    }
    if (this._sendEvents) this._recordEvaluation(key, flag, detail, defaultValue, withReason);
    return detail;
  }

  // --- context ---------------------------------------------------------------------------------

  identify(context, hash) {
    checkContext(context);
    this._context = context;
    this._hash = hash;
    if (this._sendEvents) this._enqueue({ kind: 'identify', creationDate: Date.now(), context });
    if (this._source) this._connect();
    return this._refetch().then(() => this.allFlags());
  }

  getContext() {
    return this._context;
  }

  // --- listeners -------------------------------------------------------------------------------

  on(event, callback, thisArg) {
    if (!this._listeners.has(event)) this._listeners.set(event, []);
    this._listeners.get(event).push({ callback, thisArg });
    if (event.startsWith('change') && this._streaming === undefined && !this._source && !this._closed) this._connect();
    if (event === 'ready' && this._ready) setTimeout(() => callback.call(thisArg), 0);
  }

  off(event, callback) {
    const list = this._listeners.get(event) || [];
    this._listeners.set(event, list.filter((l) => l.callback !== callback));
  }

  _emit(event, ...args) {
    for (const l of this._listeners.get(event) || []) {
      try {
        l.callback.apply(l.thisArg, args);
      } catch (error) {
        console.warn('vane: a listener threw', error);
      }
    }
  }

  // --- fetching flags ----------------------------------------------------------------------------

  _query(extra) {
    const params = new URLSearchParams({ withReasons: 'true', ...extra });
    if (this._hash) params.set('h', this._hash);
    return '?' + params.toString();
  }

  _refetch() {
    if (this._fetching) {
      this._refetchAgain = true;
      return this._fetching;
    }
    this._fetching = this._fetchFlags()
      .then((flags) => this._replaceFlags(flags))
      .finally(() => {
        this._fetching = null;
        if (this._refetchAgain) {
          this._refetchAgain = false;
          this._refetch().catch((error) => this._emit('error', error));
        }
      });
    return this._fetching;
  }

  async _fetchFlags() {
    const json = JSON.stringify(this._context);
    const getUrl = `${this._base}/sdk/evalx/${encodeURIComponent(this._id)}/contexts/${base64url(json)}${this._query()}`;
    let response;
    try {
      if (this._useReport || getUrl.length > MAX_GET_URL) {
        response = await fetch(`${this._base}/sdk/evalx/${encodeURIComponent(this._id)}/context${this._query()}`, {
          method: 'REPORT', headers: { 'Content-Type': 'application/json' }, body: json, cache: 'no-store',
        });
      } else {
        response = await fetch(getUrl, { cache: 'no-store' });
      }
    } catch (error) {
      throw new VaneError(`vane: cannot reach ${this._base}: ${error.message}`);
    }
    if (response.status === 404) throw new VaneError('vane: unknown client-side id (404)', 404);
    if (!response.ok) {
      let message = '';
      try {
        message = (await response.json()).message || '';
      } catch (_) { /* not JSON */ }
      throw new VaneError(`vane: evaluation request failed with ${response.status} ${message}`.trim(), response.status);
    }
    return response.json();
  }

  _replaceFlags(flags) {
    const previous = this._flags;
    const first = !this._loaded;
    this._flags = flags;
    this._loaded = true;
    if (first && !this._bootstrapped) return; // the first values are not changes
    const changes = {};
    for (const key of new Set([...Object.keys(previous), ...Object.keys(flags)])) {
      const before = previous[key] ? previous[key].value : undefined;
      const after = flags[key] ? flags[key].value : undefined;
      if (!same(before, after)) changes[key] = { current: after, previous: before };
    }
    if (!Object.keys(changes).length) return;
    for (const [key, change] of Object.entries(changes)) this._emit('change:' + key, change.current, change.previous);
    this._emit('change', changes);
  }

  // --- streaming -------------------------------------------------------------------------------

  _connect() {
    if (this._closed || typeof EventSource === 'undefined') return;
    if (this._source) this._source.close();
    clearTimeout(this._reconnectTimer);
    const json = JSON.stringify(this._context);
    let url = `${this._streamBase}/eval/${encodeURIComponent(this._id)}/${base64url(json)}${this._query({})}`;
    if (this._useReport || url.length > MAX_GET_URL) {
      // EventSource cannot send a body: the environment-wide ping stream, then a REPORT refetch.
      url = `${this._streamBase}/ping/${encodeURIComponent(this._id)}`;
    }
    const source = new EventSource(url);
    this._source = source;
    let opened = false;
    source.addEventListener('open', () => {
      this._reconnectMs = RECONNECT_MIN_MS;
      if (opened) this._ping(); // changes may have been missed while disconnected
      opened = true;
    });
    source.addEventListener('ping', () => this._ping());
    // A put or patch (full streams) also means: refetch.
    source.addEventListener('put', () => this._ping());
    source.addEventListener('patch', () => this._ping());
    source.addEventListener('delete', () => this._ping());
    source.addEventListener('error', () => {
      if (source.readyState !== 2 || this._closed || this._source !== source) return; // the browser retries by itself
      // Closed for good (an HTTP error): retry with backoff, 1 s to 30 s, with jitter.
      const delay = this._reconnectMs * (0.5 + Math.random() / 2);
      this._reconnectMs = Math.min(this._reconnectMs * 2, RECONNECT_MAX_MS);
      this._reconnectTimer = setTimeout(() => this._connect(), delay);
    });
  }

  _ping() {
    if (this._debounce) return;
    this._debounce = setTimeout(() => {
      this._debounce = null;
      this._refetch().then(() => this._setReady(), (error) => this._emit('error', error));
    }, DEBOUNCE_MS);
  }

  // --- events ----------------------------------------------------------------------------------

  track(key, data, metricValue) {
    if (typeof key !== 'string') throw new Error('vane: track needs an event key');
    if (!this._sendEvents) return;
    const event = { kind: 'custom', key, creationDate: Date.now(), context: this._context };
    if (data !== undefined && data !== null) event.data = data;
    if (typeof metricValue === 'number') event.metricValue = metricValue;
    this._enqueue(event);
  }

  _recordEvaluation(key, flag, detail, defaultValue, withReason) {
    const now = Date.now();
    const summary = this._summary || (this._summary = { startDate: now, endDate: now, features: {} });
    summary.endDate = now;
    const feature = summary.features[key] || (summary.features[key] = { default: defaultValue ?? null,
      contextKinds: contextKinds(this._context), counters: [] });
    for (const kind of contextKinds(this._context)) if (!feature.contextKinds.includes(kind)) feature.contextKinds.push(kind);
    const version = flag ? flag.flagVersion ?? flag.version : undefined;
    let counter = feature.counters.find((c) => flag ? c.version === version && (c.variation ?? null) === detail.variationIndex : c.unknown);
    if (!counter) {
      counter = flag ? { value: detail.value, count: 0, version } : { value: detail.value, count: 0, unknown: true };
      if (flag && detail.variationIndex !== null) counter.variation = detail.variationIndex;
      feature.counters.push(counter);
    }
    counter.count += 1;
    if (flag && (flag.trackEvents || (flag.debugEventsUntilDate && flag.debugEventsUntilDate > now))) {
      const event = { kind: flag.trackEvents ? 'feature' : 'debug', creationDate: now, key, value: detail.value,
        default: defaultValue ?? null, version, context: this._context };
      if (detail.variationIndex !== null) event.variation = detail.variationIndex;
      if ((withReason || flag.trackReason) && detail.reason) event.reason = detail.reason;
      this._enqueue(event);
    }
  }

  _enqueue(event) {
    if (this._events.length >= EVENT_CAPACITY) {
      this.flush();
      if (this._events.length >= EVENT_CAPACITY) return;
    }
    this._events.push(event);
  }

  _takePayload() {
    const events = this._events;
    this._events = [];
    if (this._summary) {
      events.push({ kind: 'summary', ...this._summary, context: this._context });
      this._summary = null;
    }
    return events;
  }

  flush() {
    return this._sendPending(false);
  }

  async _sendPending(unloading) {
    if (!this._sendEvents) return;
    const events = this._takePayload();
    if (!events.length) return;
    const url = `${this._eventsBase}/events/bulk/${encodeURIComponent(this._id)}`;
    const body = JSON.stringify(events);
    const headers = { 'Content-Type': 'application/json', 'X-LaunchDarkly-Event-Schema': '4', 'X-LaunchDarkly-Payload-ID': uuid() };
    if (unloading) {
      // The page is going away: keepalive lets the request outlive it (64 KiB at most), and
      // sendBeacon (no custom headers, text/plain: no preflight) is the fallback.
      try {
        if (body.length < 60000) {
          fetch(url, { method: 'POST', headers, body, keepalive: true }).catch(() => undefined);
          return;
        }
      } catch (_) { /* fall through */ }
      if (navigator.sendBeacon) navigator.sendBeacon(url, new Blob([body], { type: 'text/plain' }));
      return;
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt) await new Promise((resolve) => setTimeout(resolve, 1000));
      try {
        const response = await fetch(url, { method: 'POST', headers, body });
        if (response.ok) return;
        if (![400, 408, 429].includes(response.status) && response.status < 500) {
          this._sendEvents = false; // the id is wrong: stop, as LaunchDarkly's SDK does
          this._emit('error', new VaneError(`vane: events refused with ${response.status}; events are off`, response.status));
          return;
        }
      } catch (_) { /* network error: retry once */ }
    }
  }

  // --- shutdown --------------------------------------------------------------------------------

  close() {
    if (this._closed) return Promise.resolve();
    const flushed = this.flush();
    this._closed = true;
    clearInterval(this._flushTimer);
    clearTimeout(this._reconnectTimer);
    clearTimeout(this._debounce);
    if (this._source) this._source.close();
    this._source = null;
    if (this._onPageHide && globalThis.removeEventListener) globalThis.removeEventListener('pagehide', this._onPageHide);
    return flushed;
  }
}

/// A client for the environment `clientSideId`, evaluating flags for `context`.
export function initialize(clientSideId, context, options) {
  return new Client(clientSideId, context, options);
}

export { VaneError };
export default { initialize, version };
