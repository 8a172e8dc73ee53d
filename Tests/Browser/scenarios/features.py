"""Scenarios of the segments, experiments, releases and evaluate-as-a-context pages.

They are registered with @feature_scenario (FEATURE_SCENARIOS), not the core's @scenario: they run from
run_feature_tests.py, which Tests/BrowserTests/DashboardFeatureTests.swift starts against a stack whose analytics
schema a real events-processor created, with VANE_DATABASE_URL set so the experiment scenario can write correlation
state the way events-processor keeps it (the only way to give an experiment results without a full event pipeline).
"""
import os
import subprocess
import time
import uuid

from harness import API, WAIT_SECONDS, check, wait_until
from scenarios.core import XSS_NAME, XSS_ATTRIBUTE, new_project, boolean_flag, turn_on

FEATURE_SCENARIOS = []


def feature_scenario(fn):
    FEATURE_SCENARIOS.append(fn)
    return fn


def psql(sql):
    url = os.environ.get("VANE_DATABASE_URL")
    check(url, "VANE_DATABASE_URL is not set (run through DashboardFeatureTests)")
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True, capture_output=True, timeout=60)


def psql_value(sql):
    url = os.environ["VANE_DATABASE_URL"]
    out = subprocess.run(["psql", url, "-At", "-c", sql], check=True, capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def millis(rfc3339):
    from datetime import datetime
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


def wait_text(t, testid, text, timeout=WAIT_SECONDS):
    return t.wait(lambda: text in t.wait_testid(testid).text, timeout, f"{text!r} in {testid}")


def click(t, testid):
    """Clicks through JavaScript: a transient notice (bottom right) may cover the button."""
    from selenium.common.exceptions import StaleElementReferenceException
    for _ in range(20):  # a live update may re-render the section between finding and clicking
        try:
            element = t.wait_testid(testid)
            t.js("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", element)
            return
        except StaleElementReferenceException:
            time.sleep(0.1)
    raise AssertionError(f"{testid} kept being re-rendered")


def confirm(t):
    t.click_testid("confirm")
    t.gone("dialog[open]")


@feature_scenario
def evaluate_as_context(t):
    """Build a context with attributes (one of them a <script> tag), evaluate every flag of an environment on the
    server, see each flag's value, variation and reason; the attribute is shown as text."""
    project = new_project(t, [boolean_flag("beta-ui"), boolean_flag("dark-mode", XSS_NAME)])
    t.admin.patch(f"/projects/{project}/flags/beta-ui/environments/production", {
        "on": True, "fallthrough": {"variation": 1},
        "rules": [{"clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}], "variation": 0}]})
    t.sign_in(path=f"/ui/projects/{project}/evaluate?env=production")
    key = t.wait_testid("ctx-key")
    key.send_keys("user-42")
    t.wait_testid("attr-0-name").send_keys("plan")
    t.wait_testid("attr-0-value").send_keys("pro")
    t.click_testid("add-attribute")
    t.wait_testid("attr-1-name").send_keys("bio")
    t.wait_testid("attr-1-value").send_keys(XSS_ATTRIBUTE)
    check('"plan": "pro"' in t.wait_testid("ctx-json").get_attribute("value"), "the JSON follows the builder")
    t.click_testid("evaluate")
    row = t.wait_testid("eval-beta-ui")
    wait_text(t, "eval-beta-ui-reason", "RULE_MATCH")
    check(t.wait_testid("eval-beta-ui-value").text == "true", f"beta-ui value: {row.text}")
    check("0: on" in row.text, f"the variation is named: {row.text}")
    dark = t.wait_testid("eval-dark-mode")
    check(XSS_NAME in dark.text and "OFF" in dark.text, f"the XSS-named flag as text, reason OFF: {dark.text}")
    context = t.wait_testid("eval-context").text
    check(XSS_ATTRIBUTE in context, f"the <script> attribute is shown as text: {context}")
    t.assert_not_pwned()
    # Through the API the answer is the same (the page shows what the server evaluated).
    answer = t.admin.post(f"/projects/{project}/environments/production/evaluate",
                          {"kind": "user", "key": "user-42", "plan": "pro"}, expect=200)
    check([i["key"] for i in answer["items"]] == ["beta-ui", "dark-mode"], f"items: {answer}")
    t.screenshot("evaluate")
    # A pasted multi-kind context; a bad one is a readable error, not a crash.
    json_box = t.wait_testid("ctx-json")
    json_box.clear()
    json_box.send_keys('{"kind": "multi", "user": {"key": "u"}, "org": {"key": "acme", "plan": "pro"}}')
    t.click_testid("evaluate")
    wait_text(t, "eval-context", "acme")
    json_box.clear()
    json_box.send_keys('{"kind": "user"}')
    t.click_testid("evaluate")
    err = t.wait_css('[data-testid="eval-results"] [data-testid="error"]')
    check("key" in err.text.lower(), f"a readable error: {err.text}")
    t.allowed_console.append("/evaluate - Failed to load resource")


@feature_scenario
def segments_paste_in_and_rules(t):
    """Create a segment, paste many keys (newline and comma separated, with duplicates) into included and excluded,
    add a rule with a clause, save with a comment; the API stores exactly that. The segment's name is shown as text."""
    project = new_project(t, [boolean_flag("gate")])
    t.sign_in(path=f"/ui/projects/{project}/segments?env=production")
    t.wait_testid("new-segment-key").send_keys("beta-testers")
    t.wait_testid("new-segment-name").send_keys(XSS_NAME)
    t.click_testid("create-segment")
    t.wait_testid("included-paste").send_keys("alice\nbob, carol\n\nalice,dave")
    t.click_testid("included-add")
    wait_text(t, "included-count", "4 keys")
    t.wait_testid("excluded-paste").send_keys("mallory, trent")
    t.click_testid("excluded-add")
    wait_text(t, "excluded-count", "2 keys")
    t.click_testid("segment-add-rule")
    t.wait_testid("segment-rule-0-clause-0-attribute").send_keys("email")
    op = t.wait_testid("segment-rule-0-clause-0-op")
    from selenium.webdriver.support.ui import Select
    Select(op).select_by_value("endsWith")
    t.wait_testid("segment-rule-0-clause-0-values").send_keys("@example.com")
    t.wait_testid("segment-rule-0-weight").send_keys("50")
    t.screenshot("segment")
    t.click_testid("segment-save")
    t.wait_testid("comment").send_keys("beta wave 1")
    t.wait_css('dialog[open] [data-testid="diff"]')
    confirm(t)
    stored = wait_until(lambda: (lambda s: s if s["version"] == 2 else None)(
        t.admin.get(f"/projects/{project}/environments/production/segments/beta-testers")), 10, "the segment saved")
    check(stored["included"] == ["alice", "bob", "carol", "dave"], f"included: {stored['included']}")
    check(stored["excluded"] == ["mallory", "trent"], f"excluded: {stored['excluded']}")
    check(stored["rules"][0]["clauses"] == [{"contextKind": "user", "attribute": "email", "op": "endsWith",
                                             "values": ["@example.com"], "negate": False}] and stored["rules"][0]["weight"] == 50000,
          f"rules: {stored['rules']}")
    entries = t.admin.get(f"/audit?resource=proj/{project}:env/production:segment/beta-testers")["items"]
    check(any(e.get("comment") == "beta wave 1" for e in entries), f"the audit comment: {entries}")
    # The list shows the XSS name as text.
    t.click_testid("nav-segments")
    row = t.wait_testid("segment-beta-testers")
    check(XSS_NAME in row.text and "4" in row.text, f"segment row: {row.text}")
    t.assert_not_pwned()
    t.screenshot("segments")


@feature_scenario
def segment_conflict_412_is_readable(t):
    """Someone else saves the segment while it is edited here: the live update says so and keeps the edit; saving is
    refused by the server (If-Match, 412) in words, and their version is not overwritten."""
    project = new_project(t)
    url = f"/projects/{project}/environments/production/segments/contested"
    t.admin.put(url, {"included": ["alice"]}, expect=201)
    t.sign_in(path=f"/ui/projects/{project}/segments/contested?env=production")
    t.wait_testid("included-paste").send_keys("bob")
    t.click_testid("included-add")
    wait_text(t, "included-count", "2 keys")
    t.admin.put(url, {"included": ["zoe"]})
    t.wait(lambda: "Someone else changed this segment" in t.text(), WAIT_SECONDS, "the live update's notice")
    t.allowed_console.append("412")
    t.click_testid("segment-save")
    confirm(t)
    t.wait(lambda: "Someone else changed this while you were editing" in t.text(), 10, "a readable 412")
    stored = t.admin.get(url)
    check(stored["version"] == 2 and stored["included"] == ["zoe"], f"nothing was overwritten: {stored}")
    check("2 keys" in t.wait_testid("included-count").text, "the edit stays on screen")
    # Creating a segment whose key is taken is refused by the server (If-None-Match: *), not by a check beforehand.
    t.open(f"/ui/projects/{project}/segments?env=production")
    t.wait_testid("new-segment-key").send_keys("contested")
    t.click_testid("create-segment")
    t.wait(lambda: 'A segment "contested" already exists in production' in t.text(), 10, "the key is taken")
    check(t.admin.get(url)["version"] == 2, "the existing segment is not replaced")


@feature_scenario
def experiment_results_with_data(t):
    """Create an experiment in the form, start it, give it correlation state (as events-processor keeps it), read the
    results: n, mean, lift, interval, p-value, chance to win, the SVG lift chart, the SRM warning, the three views;
    stop it."""
    project = new_project(t, [{"key": "checkout", "name": "Checkout", "variations": [
        {"value": "old", "name": "old"}, {"value": "new", "name": "one-page"}]}])
    t.sign_in(path=f"/ui/projects/{project}/experiments")
    t.wait_testid("new-experiment-key").send_keys("checkout-test")
    t.wait_testid("new-experiment-name").send_keys("One-page checkout")
    t.wait_testid("new-experiment-metrics").send_keys("purchase proportion\nrevenue mean")
    t.click_testid("create-experiment")
    t.click_testid("experiment-start")
    confirm(t)
    wait_text(t, "experiment-status", "running")
    experiment = t.admin.get(f"/projects/{project}/experiments/checkout-test")
    start = millis(experiment["iteration"]["start"])
    env_id = psql_value(f"SELECT e.id FROM environments e JOIN projects p ON p.id = e.project_id "
                        f"WHERE p.key = '{project}' AND e.key = 'production'")
    # 1,000 contexts on the control (10 % buy) and 1,300 on the new checkout (14 % buy): a clear win, and a split far
    # from the expected 50/50 (sample ratio mismatch).
    psql(f"""
        INSERT INTO analytics.iteration_exposures
        SELECT '{env_id}', 'checkout', {start}, 'user', 'c' || i, {start} + 1000, 0 FROM generate_series(1, 1000) i;
        INSERT INTO analytics.iteration_exposures
        SELECT '{env_id}', 'checkout', {start}, 'user', 't' || i, {start} + 1000, 1 FROM generate_series(1, 1300) i;
        INSERT INTO analytics.goals
        SELECT '{env_id}', 'user', 'c' || i, m, {start} + 2000, now(), true, 1, v, v * v, now()
        FROM generate_series(1, 100) i, (VALUES ('purchase', 0), ('revenue', 20)) AS x(m, v);
        INSERT INTO analytics.goals
        SELECT '{env_id}', 'user', 't' || i, m, {start} + 2000, now(), true, 1, v, v * v, now()
        FROM generate_series(1, 182) i, (VALUES ('purchase', 0), ('revenue', 21)) AS x(m, v);
    """)
    t.driver.refresh()
    row = t.wait_css('[data-testid="metric-purchase"] [data-testid="result-purchase-1"]')
    check(row.find_element("css selector", '[data-testid="n"]').text == "1300", f"n: {row.text}")
    check("14.00 %" in row.text, f"mean: {row.text}")
    check(row.find_element("css selector", '[data-testid="lift"]').text == "+40.0 %", f"lift: {row.text}")
    p_text = row.find_element("css selector", '[data-testid="p"]').text
    check(p_text == "< 0.0001" or float(p_text) < 0.05, f"a significant p-value: {row.text}")
    check("%" in row.find_element("css selector", '[data-testid="ctw"]').text, f"chance to win: {row.text}")
    check(t.find('[data-testid="metric-purchase"] [data-testid="srm-warning"]'), "the SRM warning (1000 vs 1300 at 50/50)")
    check(t.find('[data-testid="metric-purchase"] svg[data-testid="lift-chart"] circle'), "the SVG lift chart")
    frequentist_ci = row.find_element("css selector", '[data-testid="ci"]').text
    t.screenshot("experiment")
    t.click_testid("view-sequential")
    t.wait(lambda: t.wait_css('[data-testid="result-purchase-1"] [data-testid="ci"]').text != frequentist_ci, WAIT_SECONDS,
           "the sequential interval (wider)")
    t.click_testid("view-bayesian")
    bayes = t.wait_css('[data-testid="result-purchase-1"]')
    check("risk" in t.wait_css('[data-testid="metric-purchase"] thead').text.lower(), "the Bayesian view shows risk")
    check("better" in bayes.text, f"the new checkout is better: {bayes.text}")
    check("view=bayesian" in t.driver.current_url, "the view is in the URL")
    t.screenshot("experiment-bayesian")
    click(t, "experiment-stop")
    confirm(t)
    wait_text(t, "experiment-status", "stopped")
    check(t.admin.get(f"/projects/{project}/experiments/checkout-test")["status"] == "stopped", "stopped through the API")
    t.click_testid("nav-experiments")
    wait_text(t, "experiment-list", "One-page checkout")
    t.screenshot("experiments")


@feature_scenario
def release_start_and_rollback(t):
    """Start a progressive rollout from the page (steps and holds), follow it, pause, resume and roll back; the API
    shows each state and the fallthrough back on the control. Schedule a change, see it pending, cancel it."""
    project = new_project(t, [boolean_flag("new-search")])
    t.admin.patch(f"/projects/{project}/flags/new-search/environments/production", {"on": True, "fallthrough": {"variation": 1}})
    base = f"/projects/{project}/flags/new-search/environments/production"
    t.sign_in(path=f"/ui/projects/{project}/releases?env=production")
    t.click_testid("release-flag-new-search")
    from selenium.webdriver.support.ui import Select
    Select(t.wait_testid("rollout-variation")).select_by_value("0")
    steps = t.wait_testid("rollout-steps")
    steps.clear()
    steps.send_keys("10 1h, 50 1h, 100")
    t.click_testid("rollout-start")
    confirm(t)
    wait_text(t, "rollout-percent", "10 %")
    wait_text(t, "rollout-status", "running")
    check(t.wait_testid("rollout-step-1").get_attribute("data-state") == "current", "step 1 is current")
    current = t.admin.get(f"{base}/rollouts/current")
    check(current["status"] == "running" and current["percent"] == 10 and current["variation"] == 0, f"rollout: {current}")
    t.screenshot("release")
    click(t, "rollout-pause")
    confirm(t)
    wait_text(t, "rollout-status", "paused")
    click(t, "rollout-resume")
    confirm(t)
    wait_text(t, "rollout-status", "running")
    click(t, "rollout-rollback")
    confirm(t)
    wait_text(t, "rollout-status", "rolled back")
    wait_text(t, "rollout-percent", "0 %")
    check(t.admin.get(f"{base}/rollouts/current")["status"] == "rolled_back", "rolled back through the API")
    targeting = t.admin.get(base)
    check(targeting["fallthrough"] == {"variation": 1}, f"the fallthrough is the control again: {targeting['fallthrough']}")
    check(t.wait_testid("rollout-step-1").get_attribute("data-state") == "stopped", "the timeline shows where it stopped")
    # A scheduled change: create, listed pending, cancel.
    Select(t.wait_testid("change-action")).select_by_value("off")
    t.wait_testid("change-comment").send_keys("night freeze")
    click(t, "change-create")
    change = wait_until(lambda: (t.admin.get(f"{base}/scheduled-changes")["items"] or [None])[0], WAIT_SECONDS, "the scheduled change")
    check(change["status"] == "pending" and change["patch"] == {"on": False}, f"change: {change}")
    wait_text(t, f"change-{change['id']}", "pending")
    check("turn targeting off" in t.wait_testid(f"change-{change['id']}").text, "the change in words")
    t.screenshot("release-scheduled")
    click(t, f"change-cancel-{change['id']}")
    confirm(t)
    wait_text(t, f"change-{change['id']}", "cancelled")
    check(t.admin.get(f"{base}/scheduled-changes/{change['id']}")["status"] == "cancelled", "cancelled through the API")


@feature_scenario
def feature_pages_reader_sees_no_write_controls(t):
    """A reader token sees the segments, experiments, releases and evaluate pages without one write control; the
    evaluate page still works (reader role)."""
    project = new_project(t, [boolean_flag("f1")])
    turn_on(t, project, "f1")
    t.admin.put(f"/projects/{project}/environments/production/segments/s1", {"name": "S1", "included": ["a"]}, expect=201)
    t.admin.post(f"/projects/{project}/experiments", {"key": "x1", "name": "X1", "flagKey": "f1", "environmentKey": "production",
                                                      "controlVariation": 0, "metrics": [{"key": "m", "type": "proportion"}]})
    t.admin.post(f"/projects/{project}/flags/f1/environments/production/rollouts",
                 {"variation": 1, "steps": [{"percent": 20, "holdSeconds": 3600}, {"percent": 100, "holdSeconds": 0}]})
    reader = t.admin.post("/tokens", {"name": f"reader-{uuid.uuid4().hex[:6]}", "role": "reader"})["token"]
    write_controls = ["new-segment", "create-segment", "segment-save", "segment-delete", "included-paste", "segment-add-rule",
                      "new-experiment", "experiment-start", "experiment-stop", "rollout-form", "rollout-pause",
                      "rollout-rollback", "change-form"]
    pages = [
        (f"/ui/projects/{project}/segments?env=production", "segment-s1"),
        (f"/ui/projects/{project}/segments/s1?env=production", "included-list"),
        (f"/ui/projects/{project}/experiments", "experiment-x1"),
        (f"/ui/projects/{project}/experiments/x1", "experiment-results"),
        (f"/ui/projects/{project}/releases?env=production", "release-flag-f1"),
        (f"/ui/projects/{project}/releases/f1?env=production", "rollout-status"),
        (f"/ui/projects/{project}/evaluate?env=production", "ctx-key"),
    ]
    t.sign_in(token=reader, path=pages[0][0])
    for path, marker in pages:
        t.open(path)
        t.wait_testid(marker)
        time.sleep(0.3)  # let the page finish rendering its sections
        shown = [c for c in write_controls if t.find(t.testid(c))]
        check(not shown, f"{path}: a reader sees write controls {shown}")
    t.wait_testid("ctx-key").send_keys("someone")
    t.click_testid("evaluate")
    wait_text(t, "eval-f1-reason", "FALLTHROUGH")
    check(API(t.base, reader).call("PUT", f"/projects/{project}/environments/production/segments/s1", {"included": []})[0] == 403,
          "the server refuses a reader's write")


@feature_scenario
def guarded_rollout_shows_guard_status(t):
    """Start a guarded rollout from the form (metric, direction, alpha, minimum contexts); the page shows the guard's
    latest look with its numbers per arm as the scheduler records them."""
    project = new_project(t, [boolean_flag("checkout-v2")])
    t.admin.patch(f"/projects/{project}/flags/checkout-v2/environments/production", {"on": True, "fallthrough": {"variation": 1}})
    t.sign_in(path=f"/ui/projects/{project}/releases/checkout-v2?env=production")
    from selenium.webdriver.support.ui import Select
    Select(t.wait_testid("rollout-variation")).select_by_value("0")
    click(t, "rollout-guard")
    t.wait_testid("guard-metric").send_keys("checkout-error")
    minimum = t.wait_testid("guard-min")
    minimum.clear()
    minimum.send_keys("50")
    click(t, "rollout-start")
    confirm(t)
    wait_text(t, "rollout-status", "running")
    guard = t.wait_testid("guard")
    check("checkout-error" in guard.text and "lower" in guard.text and "50 contexts" in guard.text, f"guard: {guard.text}")
    # The scheduler looks every 2 s; the page shows its decision with the arms once it has looked.
    rollout = wait_until(lambda: (lambda r: r if r.get("decision") else None)(
        t.admin.get(f"/projects/{project}/flags/checkout-v2/environments/production/rollouts/current")), 15, "the guard's first look")
    check(rollout["guard"]["minContexts"] == 50 and rollout["guard"]["higherIsBetter"] is False, f"guard stored: {rollout['guard']}")
    t.driver.refresh()
    wait_text(t, "guard-action", rollout["decision"]["action"])
    check("Contexts" in t.wait_testid("guard").text or "CONTEXTS" in t.wait_testid("guard").text, "the arms table")
    t.wait_testid("guard-numbers")
    t.screenshot("release-guard")
