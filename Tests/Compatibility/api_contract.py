#!/usr/bin/env python3
"""management-api against its published contract (docs/openapi.yaml, served at GET /api/v1/openapi.json).

Usage (prints a JSON summary on its last stdout line and exits 0, or 1 with schemathesis' report)::

    api_contract.py --management URL --token ADMIN_TOKEN [--seed S] [--examples N]

Fetches the document from the running service without a token, checks that a method a documented path does not
serve gets 405 with ``Allow``, creates fixtures (a project, flags with targeting, a segment, a running experiment, a scheduled
change, a running rollout), then runs
schemathesis (pinned in requirements.txt) twice with a fixed seed and at most N examples per operation:

* ``random``: every operation with generated parameters (most name resources that do not exist);
* ``fixtures``: every operation but DELETE, with the path parameters pinned to the fixtures, so that the
  answers about existing resources (flags with targeting, segments, experiments and their results) are
  checked too;
* ``revoke``: ``DELETE /tokens/{id}`` alone, last (schemathesis reuses the ids it saw, the caller's own
  token's among them; revoking it earlier would leave every later request a 401).

Checks: no 5xx (``not_a_server_error``), and status codes, content types, headers and bodies conform to the
document (``status_code_conformance``, ``content_type_conformance``, ``response_headers_conformance``,
``response_schema_conformance``), plus ``unsupported_method`` (405 for undocumented methods) and
``ignored_auth`` (401 without a valid token). Not checked: ``positive_data_acceptance`` (the schema cannot say
that a variation index must exist in the flag, so schema-valid bodies legitimately get 422) and
``negative_data_rejection``/``missing_required_header``. VANE_CONTRACT_CHECKS (``all``, or a list) and
VANE_CONTRACT_EXCLUDE_CHECKS choose others; VANE_CONTRACT_PHASES adds ``stateful``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import requests

CHECKS = ('not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,'
          'response_schema_conformance,unsupported_method,ignored_auth')
PROJECT = 'contract'


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relay_compat import Failure, Management  # noqa: E402  (the same management-api client the other suites use)


def fetch_document(base: str) -> dict:
    """The served document, read without a token."""
    response = requests.get(base.rstrip('/') + '/api/v1/openapi.json', timeout=30)
    if response.status_code != 200 or not response.headers.get('content-type', '').startswith('application/json'):
        raise Failure('GET /api/v1/openapi.json without a token -> %d %s' % (response.status_code, response.text[:500]))
    document = response.json()
    if document.get('openapi') != '3.1.0' or not document.get('paths'):
        raise Failure('the served document is not an OpenAPI 3.1 document')
    return document


def check_method_not_allowed(base: str) -> None:
    response = requests.request('TRACE', base.rstrip('/') + '/api/v1/projects', timeout=30)
    if response.status_code != 405 or response.headers.get('allow') != 'GET, POST':
        raise Failure('TRACE /api/v1/projects -> %d (Allow: %s); expected 405 with Allow: GET, POST'
                      % (response.status_code, response.headers.get('allow')))


def create_fixtures(mgmt: Management) -> Dict[str, str]:
    mgmt.call('POST', '/projects', {'key': PROJECT, 'name': 'Contract'})
    base = '/projects/%s' % PROJECT
    mgmt.call('POST', base + '/flags', {'key': 'flag-a', 'name': 'A', 'variations': [{'value': True}, {'value': False}]})
    mgmt.call('POST', base + '/flags', {'key': 'flag-b', 'name': 'B', 'tags': ['t'],
                                        'variations': [{'value': 'x', 'name': 'x'}, {'value': 'y'}, {'value': 'z'}]})
    mgmt.call('PUT', base + '/environments/production/segments/seg-a',
              {'name': 'Seg', 'included': ['alice'], 'includedContexts': [{'contextKind': 'org', 'values': ['acme']}],
               'rules': [{'clauses': [{'attribute': 'email', 'op': 'endsWith', 'values': ['@example.com']}], 'weight': 50000}]})
    mgmt.call('PUT', base + '/flags/flag-b/environments/production', {
        'on': True, 'targets': [{'values': ['bob'], 'variation': 1}],
        'rules': [{'clauses': [{'attribute': '', 'op': 'segmentMatch', 'values': ['seg-a']}], 'variation': 2},
                  {'clauses': [{'attribute': 'plan', 'op': 'matches', 'values': ['^\\d+$']}],
                   'rollout': {'variations': [{'variation': 0, 'weight': 50000}, {'variation': 1, 'weight': 50000}]}}],
        'fallthrough': {'variation': 0}, 'offVariation': 1,
        'prerequisites': [{'key': 'flag-a', 'variation': 0}]})
    mgmt.call('POST', base + '/experiments', {
        'key': 'exp-a', 'name': 'Exp', 'flagKey': 'flag-b', 'environmentKey': 'production', 'controlVariation': 0,
        'metrics': [{'key': 'purchase', 'type': 'proportion'}, {'key': 'revenue', 'type': 'mean'}]})
    mgmt.call('POST', base + '/experiments/exp-a/start')
    mgmt.call('POST', '/tokens', {'name': 'contract-reader', 'role': 'reader'})
    targeting = base + '/flags/flag-a/environments/production'
    tomorrow = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 86400))
    change = mgmt.call('POST', targeting + '/scheduled-changes', {'executeAt': tomorrow, 'patch': {'on': True}}).json()
    mgmt.call('PATCH', targeting, {'on': True})
    mgmt.call('POST', targeting + '/rollouts', {'variation': 1, 'steps': [{'percent': 25, 'holdSeconds': 3600},
                                                                          {'percent': 100, 'holdSeconds': 0}]})
    # `id` is the scheduled change's: the only `{id}` the fixture run reaches (DELETE /tokens/{id} is not in it).
    return {'project': PROJECT, 'environment': 'production', 'flag': 'flag-a', 'segment': 'seg-a', 'experiment': 'exp-a',
            'id': change['id']}


def run_schemathesis(base: str, token: str, name: str, folder: str, seed: int, examples: int,
                     pinned: Optional[Dict[str, str]]) -> Dict[str, Any]:
    config = os.path.join(folder, '%s.toml' % name)
    with open(config, 'w') as handle:
        # With VANE_CONTRACT_CHECKS=all: a stale If-Match is answered 412 before the body is validated (RFC 9110
        # evaluates preconditions first), and an oversized body 413.
        handle.write('[checks.negative_data_rejection]\nexpected-statuses = ["400", "401", "403", "404", "405", "406", '
                     '"409", "412", "413", "415", "422", "428", "429"]\n')
        if pinned:
            handle.write('[parameters]\n')
            for key, value in pinned.items():
                handle.write('"path.%s" = "%s"\n' % (key, value))
            handle.write('"query.environment" = "production"\n')
    report = os.path.join(folder, '%s.ndjson' % name)
    checks = os.environ.get('VANE_CONTRACT_CHECKS') or CHECKS
    command = [
        os.path.join(os.path.dirname(sys.executable), 'schemathesis'), '--config-file', config, 'run',
        base.rstrip('/') + '/api/v1/openapi.json', '--url', base.rstrip('/') + '/api/v1',
        '--header', 'Authorization: Bearer %s' % token, '--checks', checks, '--seed', str(seed),
        '--max-examples', str(examples), '--phases', os.environ.get('VANE_CONTRACT_PHASES') or 'examples,coverage,fuzzing',
        '--workers', '1',
        '--no-color', '--report', 'ndjson', '--report-ndjson-path', report, '--suppress-health-check', 'all',
        '--request-timeout', '20',
    ]
    if os.environ.get('VANE_CONTRACT_EXCLUDE_CHECKS'):
        command += ['--exclude-checks', os.environ['VANE_CONTRACT_EXCLUDE_CHECKS']]
    if name == 'revoke':
        # Last, alone: schemathesis reuses ids it has seen (GET /tokens lists the caller's own token), so revoking
        # may lock it out; the rest of this run then gets 401, which the document allows.
        command += ['--include-operation-id', 'deleteToken']
    else:
        command += ['--exclude-operation-id', 'deleteToken']
    if pinned:
        command += ['--exclude-method', 'DELETE']
    started = time.time()
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=folder)  # its cache stays out of the repository
    if result.returncode != 0:
        raise Failure('schemathesis (%s) found non-conforming responses:\n%s\n%s'
                      % (name, result.stdout[-15000:], result.stderr[-3000:]))
    summary = [line.strip() for line in result.stdout.splitlines() if 'passed' in line or 'cases' in line.lower()][-3:]
    return {'seconds': round(time.time() - started, 1), 'summary': summary}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--management', required=True)
    parser.add_argument('--token', required=True)
    parser.add_argument('--seed', type=int, default=20261205)
    parser.add_argument('--examples', type=int, default=10, help='examples per operation and phase')
    args = parser.parse_args(argv)
    try:
        document = fetch_document(args.management)
        check_method_not_allowed(args.management)
        mgmt = Management(args.management, args.token)
        pinned = create_fixtures(mgmt)
        operations = sum(1 for item in document['paths'].values() for method in item
                         if method in ('get', 'put', 'post', 'patch', 'delete'))
        with tempfile.TemporaryDirectory() as folder:
            runs = {name: run_schemathesis(args.management, args.token, name, folder, args.seed, args.examples,
                                           pinned if name == 'fixtures' else None)
                    for name in ('random', 'fixtures', 'revoke')}
    except Failure as failure:
        print(str(failure))
        return 1
    print(json.dumps({'operations': operations, 'seed': args.seed, 'examplesPerOperation': args.examples, 'runs': runs}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
