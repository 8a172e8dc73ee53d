"""The flag page: creating a flag in the browser, editing targeting (a rule with two clauses and a 30/70
rollout) checked through the API, a 412 conflict, reordering, settings and variations, side by side."""
import uuid

from harness import WAIT_SECONDS, check, scenario, wait_until
from scenarios.core import new_project, boolean_flag, turn_on


def select(t, testid, value):
    t.select_testid(testid, value)


def type_into(t, testid, text, clear=True):
    return t.type_testid(testid, text, clear)


def save_targeting(t, comment=None):
    t.click_testid("save-targeting")
    t.wait_testid("diff-preview")
    if comment:
        t.wait_testid("comment").send_keys(comment)
    t.click_testid("confirm")


@scenario
def create_flag_and_edit_targeting(t):
    project = new_project(t)
    t.admin.put(f"/projects/{project}/environments/production/segments/beta", {"name": "Beta", "included": ["alice"]}, expect=201)
    t.sign_in(path=f"/ui/projects/{project}/flags?env=production")
    t.click_testid("new-flag")
    type_into(t, "flag-key", "checkout-v2")
    type_into(t, "flag-name", "Checkout v2")
    type_into(t, "flag-description", "The one-page checkout")
    type_into(t, "flag-tags", "checkout, q4")
    t.screenshot("flag-create")
    t.click_testid("create-flag")
    t.wait(lambda: f"/ui/projects/{project}/flags/checkout-v2" in t.driver.current_url, WAIT_SECONDS, "the new flag's page")
    flag = t.admin.get(f"/projects/{project}/flags/checkout-v2")
    check(flag["name"] == "Checkout v2" and flag["tags"] == ["checkout", "q4"], f"created: {flag}")
    # A rule with two clauses and a 30/70 rollout.
    t.click_testid("add-rule")
    type_into(t, "rule-0-clause-0-attribute", "email")
    select(t, "rule-0-clause-0-op", "endsWith")
    type_into(t, "rule-0-clause-0-values", "@example.com")
    t.click_testid("rule-0-add-clause")
    type_into(t, "rule-0-clause-1-kind", "org")
    type_into(t, "rule-0-clause-1-attribute", "country")
    select(t, "rule-0-clause-1-op", "in")
    type_into(t, "rule-0-clause-1-values", "DE\nFR")
    t.click_testid("rule-0-clause-1-negate")
    select(t, "rule-0-serve", "rollout")
    type_into(t, "rule-0-weight-0", "30")
    t.wait(lambda: t.wait_testid("rule-0-weight-1").get_attribute("value") == "70", WAIT_SECONDS, "the other weight to become 70")
    check("100%" in t.wait_testid("rule-0-total").text, "the rollout sums to 100%")
    # A second rule matching a segment, moved above the first.
    t.click_testid("add-rule")
    select(t, "rule-1-clause-0-op", "segmentMatch")
    type_into(t, "rule-1-clause-0-values", "beta")
    select(t, "rule-1-serve", "1")
    t.click_testid("rule-1-up")
    # Individual targets, an org target, the fallthrough and the off variation; targeting on.
    t.click_testid("add-target")
    type_into(t, "target-0-values", "alice\nbob")
    t.click_testid("add-target")
    type_into(t, "target-1-kind", "org")
    type_into(t, "target-1-values", "acme")
    select(t, "target-1-variation", "1")
    select(t, "fallthrough-serve", "1")
    select(t, "off-variation", "1")
    t.click_testid("targeting-on")
    t.screenshot("flag-targeting")
    t.click_testid("save-targeting")
    preview = t.wait_testid("diff-preview")
    check("rules[1].rollout.variations[0].weight" in preview.text and "30000" in preview.text, f"the diff preview: {preview.text[:500]}")
    t.screenshot("flag-diff-preview")
    t.wait_testid("comment").send_keys("beta rollout")
    t.click_testid("confirm")
    t.wait(lambda: "version 2" in t.text(), WAIT_SECONDS, "the save to complete")
    stored = t.admin.get(f"/projects/{project}/flags/checkout-v2/environments/production")
    check(stored["on"] is True, "on")
    check(len(stored["rules"]) == 2, f"two rules: {stored['rules']}")
    segment_rule, rule = stored["rules"]
    check(segment_rule["clauses"][0]["op"] == "segmentMatch" and segment_rule["clauses"][0]["values"] == ["beta"],
          f"segment rule first: {segment_rule}")
    check(segment_rule.get("variation") == 1, "segment rule serves 1")
    clauses = rule["clauses"]
    check(len(clauses) == 2, f"two clauses: {clauses}")
    check(clauses[0]["attribute"] == "email" and clauses[0]["op"] == "endsWith" and clauses[0]["values"] == ["@example.com"]
          and not clauses[0].get("negate"), f"first clause: {clauses[0]}")
    check(clauses[1].get("contextKind") == "org" and clauses[1]["attribute"] == "country" and clauses[1]["op"] == "in"
          and clauses[1]["values"] == ["DE", "FR"] and clauses[1]["negate"] is True, f"second clause: {clauses[1]}")
    weights = {v["variation"]: v["weight"] for v in rule["rollout"]["variations"]}
    check(weights == {0: 30000, 1: 70000}, f"a 30/70 rollout: {rule['rollout']}")
    check("variation" not in rule, "a rollout rule has no variation")
    check(stored["targets"] == [{"values": ["alice", "bob"], "variation": 0}], f"targets: {stored['targets']}")
    check([c for c in stored["contextTargets"] if c["contextKind"] == "org"]
          == [{"contextKind": "org", "values": ["acme"], "variation": 1}],
          f"context targets: {stored['contextTargets']}")
    check(stored["fallthrough"] == {"variation": 1} and stored["offVariation"] == 1, f"fallthrough/off: {stored}")
    audit = t.admin.get(f"/audit?resource=proj/{project}:env/production:flag/checkout-v2")["items"]
    check(audit and audit[0]["comment"] == "beta rollout", "the comment is audited")
    # Side by side and the evaluation chart section are there.
    compare = t.wait_testid("compare")
    check("production" in compare.text.lower() and "test" in compare.text.lower(), f"environments side by side: {compare.text}")
    t.wait_testid("last-evaluated")
    t.screenshot("flag")


@scenario
def conflict_412_is_readable(t):
    project = new_project(t, [boolean_flag("contested")])
    t.sign_in(path=f"/ui/projects/{project}/flags/contested?env=production")
    t.wait_testid("targeting-editor")
    select(t, "off-variation", "0")
    # Someone else saves meanwhile (live updates see it; the draft is dirty, so the page warns and keeps it).
    t.admin.patch(f"/projects/{project}/flags/contested/environments/production", {"on": True})
    t.wait(lambda: "changed elsewhere" in t.wait_testid("targeting-status").text, WAIT_SECONDS, "a warning that it changed elsewhere")
    t.allowed_console.append("412")
    save_targeting(t)
    status = t.wait(lambda: "Someone else changed this" in t.wait_testid("targeting-status").text and t.wait_testid("targeting-status"),
                    10, "a readable 412")
    t.screenshot("flag-conflict")
    check(t.admin.get(f"/projects/{project}/flags/contested/environments/production")["offVariation"] == 1, "nothing was overwritten")
    t.click_testid("reload-targeting")
    t.wait(lambda: t.wait_testid("targeting-on").get_attribute("aria-checked") == "true", WAIT_SECONDS, "their version loaded")
    select(t, "off-variation", "0")
    save_targeting(t)
    wait_until(lambda: t.admin.get(f"/projects/{project}/flags/contested/environments/production")["offVariation"] == 0,
               5, "my change saved after reloading")
    del status


@scenario
def settings_and_variations(t):
    project = new_project(t)
    t.admin.post(f"/projects/{project}/flags", {"key": "layout", "name": "Layout", "variations": [
        {"value": {"columns": 1}, "name": "one"}, {"value": {"columns": 2}, "name": "two"}]})
    t.sign_in(path=f"/ui/projects/{project}/flags/layout?env=test")
    value = t.wait_testid("variation-1-value")
    value.clear()
    value.send_keys('{"columns": 2, "sidebar": ')
    t.click_testid("save-settings")
    t.wait(lambda: "not valid JSON" in t.text(), WAIT_SECONDS, "invalid JSON refused before sending")
    value.send_keys("true}")
    t.click_testid("add-variation")
    t.wait_testid("variation-2-value").clear()
    t.wait_testid("variation-2-value").send_keys('{"columns": 3}')
    type_into(t, "settings-name", "Page layout")
    t.click_testid("save-settings")
    t.wait_testid("diff-preview")
    t.click_testid("confirm")
    wait_until(lambda: t.admin.get(f"/projects/{project}/flags/layout")["name"] == "Page layout", WAIT_SECONDS, "settings saved")
    flag = t.admin.get(f"/projects/{project}/flags/layout")
    check([v["value"] for v in flag["variations"]] == [{"columns": 1}, {"columns": 2, "sidebar": True}, {"columns": 3}],
          f"variations: {flag['variations']}")
    t.screenshot("flag-settings")
    t.click_testid("delete-flag")
    t.click_testid("confirm")
    t.wait(lambda: t.js("return window.location.pathname") == f"/ui/projects/{project}/flags", WAIT_SECONDS, "back to the list")
    check(t.admin.call("GET", f"/projects/{project}/flags/layout")[0] == 404, "deleted")


@scenario
def reader_flag_page_is_read_only(t):
    project = new_project(t, [boolean_flag("ro")])
    t.admin.put(f"/projects/{project}/flags/ro/environments/production", {
        "on": True, "fallthrough": {"rollout": {"variations": [{"variation": 0, "weight": 30000}, {"variation": 1, "weight": 70000}]}},
        "rules": [{"clauses": [{"attribute": "email", "op": "endsWith", "values": ["@example.com"]}], "variation": 0}]})
    reader = t.admin.post("/tokens", {"name": f"reader-{uuid.uuid4().hex[:6]}", "role": "reader"})
    t.sign_in(token=reader["token"], path=f"/ui/projects/{project}/flags/ro?env=production")
    t.wait_testid("targeting-editor")
    check(t.wait_testid("targeting-state").text == "On", "the state is shown")
    check("email ends with" in t.wait_testid("rule-0-summary").text, "the rule is readable")
    for testid in ("save-targeting", "add-rule", "save-settings", "delete-flag", "targeting-on", "add-target", "rule-0-delete"):
        check(not t.find(t.testid(testid)), f"a reader sees {testid}")
    fieldsets = t.find("main fieldset")
    check(fieldsets and all(f.get_attribute("disabled") is not None for f in fieldsets), "every editor is disabled")
    t.screenshot("reader-flag")
