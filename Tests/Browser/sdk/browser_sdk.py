#!/usr/bin/env python3
"""The browser SDK (SDKs/Browser/vane.js) in headless Chromium, from a page on another origin.

Usage::

    browser_sdk.py --management URL --token T --relay URL --events URL --project KEY

The project must exist with its production environment (browser flags ``banner`` (string),
``kill-switch`` (boolean, on), the server-only flag ``server-only``) and a ``secure`` environment in
secure mode with ``banner`` on. This script serves a page and a copy of ``vane.js`` from its own
HTTP server (a different origin from the relay and events-ingest, so every request is a CORS
request), drives Chromium through Selenium and checks that the page

1. initializes with the client-side id and shows ``banner``;
2. never sees ``server-only``;
3. sees the kill switch (``PATCH {"on": false}`` through management-api) in under 1 s;
4. sends a ``track`` event (``browser-goal``) to events-ingest (the caller finds it on
   ``vane.events.raw``) and, on ``pagehide``, its evaluations with ``fetch(keepalive)``;
5. works in secure mode with the context's hash, and fails cleanly with a wrong one;
6. logs no SEVERE console entry (except the refused request of the wrong-hash case).

Prints a JSON summary on its last stdout line; exits 1 with the failures.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import hmac
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from typing import Any, List

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>vane.js test page</title><link rel="icon" href="data:,"></head>
<body>
<p>Banner: <span id="banner">…</span></p>
<p>Kill switch: <span id="kill">…</span></p>
<script type="module">
import { initialize } from './vane.js';
const config = JSON.parse(new URLSearchParams(location.search).get('config'));
window.log = [];
const client = initialize(config.id, config.context, config.options);
window.client = client;
client.on('change:kill-switch', (current, previous) => {
  window.log.push({ event: 'change:kill-switch', current, previous, at: performance.timeOrigin + performance.now() });
  document.getElementById('kill').textContent = String(current);
});
client.on('failed', (error) => { window.log.push({ event: 'failed', message: error.message, status: error.status }); });
client.waitForInitialization(10).then(() => {
  document.getElementById('banner').textContent = client.variation('banner', 'none');
  document.getElementById('kill').textContent = String(client.variation('kill-switch', false));
  window.ready = true;
}, (error) => { window.initError = error.message; });
</script>
</body></html>
"""


class Failure(Exception):
    pass


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def serve(directory: str) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get('VANE_CHROMIUM', '/usr/bin/chromium')
    for argument in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1200,900'):
        options.add_argument(argument)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    return webdriver.Chrome(service=Service(os.environ.get('VANE_CHROMEDRIVER', '/usr/bin/chromedriver')), options=options)


def wait(driver: webdriver.Chrome, script: str, timeout: float = 15, what: str = '') -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = driver.execute_script('return ' + script)
        if value:
            return value
        time.sleep(0.02)
    raise Failure('%s: not within %ss (page state: %s)' % (what or script, timeout, driver.execute_script(
        'return JSON.stringify({ready: window.ready, initError: window.initError, log: window.log})')))


def page_url(server: http.server.ThreadingHTTPServer, config: dict) -> str:
    # A query string, not a fragment: loading another fragment of the same page would not reload it.
    return 'http://127.0.0.1:%d/index.html?config=%s' % (server.server_address[1], requests.utils.quote(json.dumps(config), safe=''))


def secure_hash(sdk_key: str, context: dict) -> str:
    # The fully-qualified key of a single user context is its key.
    return hmac.new(sdk_key.encode(), context['key'].encode(), hashlib.sha256).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ('--management', '--token', '--relay', '--events', '--project'):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    api = requests.Session()
    api.headers['Authorization'] = 'Bearer ' + args.token
    base = args.management.rstrip('/') + '/api/v1/projects/' + args.project
    environments = {e['key']: e for e in api.get(base, timeout=10).json()['environments']}
    production, secure = environments['production'], environments['secure']

    directory = tempfile.mkdtemp(prefix='vane-browser-sdk-')
    shutil.copy(os.path.join(ROOT, 'SDKs', 'Browser', 'vane.js'), directory)
    with open(os.path.join(directory, 'index.html'), 'w') as f:
        f.write(PAGE)
    server = serve(directory)
    driver = browser()
    failures: List[str] = []
    summary: dict = {}
    try:
        options = {'baseUrl': args.relay, 'eventsUrl': args.events, 'flushInterval': 500}
        context = {'kind': 'user', 'key': 'browser-user', 'name': 'Browser'}
        started = time.time()
        driver.get(page_url(server, {'id': production['clientSideId'], 'context': context, 'options': options}))
        wait(driver, 'window.ready === true', what='the page initializes')
        summary['initializedSeconds'] = round(time.time() - started, 3)
        banner = driver.find_element('id', 'banner').text
        if banner != 'hello from vane':
            failures.append('banner shows %r' % banner)
        flags = driver.execute_script('return window.client.allFlags()')
        if 'server-only' in flags or 'banner' not in flags:
            failures.append('allFlags() is %s: it must hold browser flags only' % flags)
        if driver.execute_script("return window.client.variation('server-only', 'default')") != 'default':
            failures.append('a server-only flag was evaluated in the browser')
        detail = driver.execute_script("return window.client.variationDetail('banner', 'x')")
        if detail.get('variationIndex') != 0 or (detail.get('reason') or {}).get('kind') != 'FALLTHROUGH':
            failures.append('variationDetail(banner) is %s' % detail)
        if driver.find_element('id', 'kill').text != 'true':
            failures.append('kill-switch is not on at first')

        # The kill switch: management-api -> Kafka -> relay -> ping -> evalx -> change event.
        # The SDK does not refetch when its stream first opens, so a change made before that is never
        # seen: wait until the stream (opened by the change listener) is open. The relay registers a
        # stream before it sends the response head, so an open EventSource already receives pings.
        wait(driver, 'window.client._source && window.client._source.readyState === 1', timeout=30,
             what='the stream opens')
        before = time.time()
        response = api.patch(base + '/flags/kill-switch/environments/production', json={'on': False}, timeout=10)
        if response.status_code != 200:
            raise Failure('PATCH kill-switch: %d %s' % (response.status_code, response.text))
        wait(driver, "document.getElementById('kill').textContent === 'false'", timeout=10, what='the kill switch')
        seen = driver.execute_script("return window.log.find(e => e.event === 'change:kill-switch').at") / 1000.0
        summary['killSwitchMillis'] = round((seen - before) * 1000)
        if seen - before >= 1.0:
            failures.append('the kill switch took %.0f ms (limit 1000 ms)' % ((seen - before) * 1000))

        # A tracked event, flushed to events-ingest (the caller checks vane.events.raw).
        driver.execute_script("window.client.track('browser-goal', {sku: 'b-1'}, 3.5); return window.client.flush()")
        time.sleep(0.3)
        # pagehide sends what is left (this evaluation) with fetch(keepalive).
        driver.execute_script("window.client.variation('banner', 'x'); window.dispatchEvent(new Event('pagehide'))")
        time.sleep(0.5)
        severe = [e for e in driver.get_log('browser') if e['level'] == 'SEVERE']
        if severe:
            failures.append('severe console entries: %s' % severe)

        # Secure mode: the right hash works, a wrong one fails cleanly.
        secure_context = {'kind': 'user', 'key': 'secure-user'}
        good = {'id': secure['clientSideId'], 'context': secure_context,
                'options': dict(options, hash=secure_hash(secure['sdkKey'], secure_context), sendEvents=False)}
        driver.get(page_url(server, good))
        wait(driver, 'window.ready === true', what='secure mode with the right hash')
        if driver.find_element('id', 'banner').text != 'hello from vane':
            failures.append('secure mode: banner shows %r' % driver.find_element('id', 'banner').text)
        severe = [e for e in driver.get_log('browser') if e['level'] == 'SEVERE']
        if severe:
            failures.append('severe console entries in secure mode: %s' % severe)
        bad = dict(good, options=dict(good['options'], hash='0' * 64))
        driver.get(page_url(server, bad))
        message = wait(driver, 'window.initError', what='secure mode with a wrong hash fails')
        if '400' not in message:
            failures.append('a wrong hash failed with %r (expected a 400)' % message)
        driver.get_log('browser')  # the refused request is logged; expected here
    except Failure as failure:
        failures.append(str(failure))
    finally:
        driver.quit()
        server.shutdown()
        shutil.rmtree(directory, ignore_errors=True)
    if failures:
        print('\n'.join(failures))
        print(json.dumps({'failures': len(failures), **summary}))
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
