#!/usr/bin/env python3
"""Creates the demo project once (through management-api) and prints how to use the local stack.

Called by scripts/run-stack.sh. Standard library only. The demo project ``demo`` has the
environments ``production`` and ``test``, a segment and four flags:

* ``new-checkout``: a boolean kill switch, on;
* ``search-v2``: a boolean percentage rollout, 25 % of users;
* ``banner-text``: a string flag with three variations and targeting rules (a segment, an email domain);
* ``beta-testers``: a segment (two users, and everyone in Germany or France).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any, Optional, Tuple

PROJECT = 'demo'
ENVIRONMENT = 'production'


def call(api: str, token: str, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(api + '/api/v1' + path, data=data, method=method)
    request.add_header('Authorization', 'Bearer ' + token)
    if data is not None:
        request.add_header('Content-Type', 'application/json')
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if text else None


def require(result: Tuple[int, Any], *statuses: int) -> Any:
    status, body = result
    if status not in statuses:
        sys.exit('demo: management-api answered %s: %s' % (status, json.dumps(body)))
    return body


def create_demo(api: str, token: str) -> None:
    require(call(api, token, 'POST', '/projects', {'key': PROJECT, 'name': 'Demo'}), 201)
    segments = '/projects/%s/environments/%s/segments' % (PROJECT, ENVIRONMENT)
    require(call(api, token, 'PUT', segments + '/beta-testers', {
        'name': 'Beta testers', 'description': 'Two named users, and everyone in Germany or France',
        'included': ['alice', 'bob'],
        'rules': [{'clauses': [{'contextKind': 'user', 'attribute': 'country', 'op': 'in', 'values': ['de', 'fr']}]}],
    }), 201)

    def flag(body: dict, targeting: dict) -> None:
        require(call(api, token, 'POST', '/projects/%s/flags' % PROJECT, body), 201)
        require(call(api, token, 'PUT', '/projects/%s/flags/%s/environments/%s' % (PROJECT, body['key'], ENVIRONMENT),
                     targeting), 200)

    flag({'key': 'new-checkout', 'name': 'New checkout', 'description': 'Kill switch: turn it off to fall back to the old checkout',
          'variations': [{'value': True, 'name': 'enabled'}, {'value': False, 'name': 'disabled'}], 'tags': ['kill-switch'],
          'clientSideAvailability': {'usingEnvironmentId': True, 'usingMobileKey': True}},
         {'on': True, 'fallthrough': {'variation': 0}, 'offVariation': 1})
    flag({'key': 'search-v2', 'name': 'Search v2', 'description': 'Percentage rollout: 25 % of users get the new search',
          'variations': [{'value': True}, {'value': False}], 'tags': ['rollout'], 'temporary': True,
          'clientSideAvailability': {'usingEnvironmentId': True, 'usingMobileKey': True}},
         {'on': True, 'offVariation': 1,
          'fallthrough': {'rollout': {'variations': [{'variation': 0, 'weight': 25000}, {'variation': 1, 'weight': 75000}]}}})
    flag({'key': 'banner-text', 'name': 'Banner text', 'description': 'A string flag with targeting rules',
          'variations': [{'value': 'Welcome!', 'name': 'default'}, {'value': 'Thanks for testing the beta', 'name': 'beta'},
                         {'value': 'Hello, colleague', 'name': 'staff'}], 'tags': ['ui'],
          'clientSideAvailability': {'usingEnvironmentId': True, 'usingMobileKey': True}},
         {'on': True, 'offVariation': 0, 'fallthrough': {'variation': 0},
          'targets': [{'values': ['carol'], 'variation': 2}],
          'rules': [{'description': 'staff', 'clauses': [{'contextKind': 'user', 'attribute': 'email', 'op': 'endsWith',
                                                          'values': ['@example.com']}], 'variation': 2},
                    {'description': 'beta', 'clauses': [{'attribute': '', 'op': 'segmentMatch', 'values': ['beta-testers']}],
                     'variation': 1}]})


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    for name in ('--api', '--token', '--relay', '--events', '--processor', '--host', '--api-port', '--database', '--logs'):
        parser.add_argument(name, required=True)
    parser.add_argument('--ready-file')
    args = parser.parse_args(argv)

    status, _ = call(args.api, args.token, 'GET', '/projects/' + PROJECT)
    created = status == 404
    if created:
        create_demo(args.api, args.token)
    environment = require(call(args.api, args.token, 'GET', '/projects/%s/environments/%s' % (PROJECT, ENVIRONMENT)), 200)
    api_url = 'http://%s:%s' % (args.host, args.api_port)
    summary = {
        'dashboard': api_url + '/ui/', 'managementAPI': api_url + '/api/v1', 'adminToken': args.token, 'relay': args.relay, 'events': args.events,
        'processor': args.processor, 'database': args.database, 'project': PROJECT, 'environment': ENVIRONMENT,
        'sdkKey': environment['sdkKey'], 'mobileKey': environment['mobileKey'], 'clientSideId': environment['clientSideId'],
    }
    if args.ready_file:
        with open(args.ready_file, 'w') as f:
            json.dump(summary, f)

    print('''
Vane is running.%(note)s

  dashboard        %(dashboard)s            sign in with the admin token (docs/dashboard.md)
  admin token      %(adminToken)s
  management API   %(managementAPI)s          (docs/api.md)
  relay (SDKs)     %(relay)s                  streaming, polling, client-side and OFREP
  events           %(events)s                 SDK event batches
  analytics        %(database)s   (schema analytics; processor health on %(processor)s)

  demo project "demo", environment "production":
    SDK key        %(sdkKey)s
    mobile key     %(mobileKey)s
    client-side id %(clientSideId)s
  flags: new-checkout (kill switch), search-v2 (25 %% rollout), banner-text (rules), segment beta-testers

Try it:

  # the kill switch
  curl -s -X PATCH -H "Authorization: Bearer %(adminToken)s" -H "Content-Type: application/json" \\
       %(managementAPI)s/projects/demo/flags/new-checkout/environments/production -d '{"on": false}'

  # what a server-side SDK receives
  curl -s -H "Authorization: %(sdkKey)s" %(relay)s/sdk/latest-all

  # the LaunchDarkly Python SDK (pip install launchdarkly-server-sdk; make test puts it in .venv/)
  .venv/bin/python - <<'EOF'
  import ldclient
  from ldclient import Context
  from ldclient.config import Config
  ldclient.set_config(Config("%(sdkKey)s", base_uri="%(relay)s",
                             stream_uri="%(relay)s", events_uri="%(events)s"))
  client = ldclient.get()
  for user in ("alice", "carol", "zoe"):
      context = Context.builder(user).set("email", user + "@example.org").build()
      print(user, client.variation("new-checkout", context, False), client.variation("banner-text", context, "?"))
  client.close()
  EOF

  # OpenFeature (OFREP)
  curl -s -X POST -H "Authorization: %(sdkKey)s" -H "Content-Type: application/json" \\
       %(relay)s/ofrep/v1/evaluate/flags/banner-text -d '{"context": {"targetingKey": "carol"}}'

Logs: %(logs)s. Stop with Ctrl-C (the data stays in %(data)s; make run starts again).''' % dict(
        summary, note=' The demo project was created.' if created else '', logs=args.logs,
        data=os.path.dirname(os.path.abspath(args.logs))))
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
