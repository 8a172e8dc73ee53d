"""Screenshots of the dashboard for docs/images, from a running `make run` stack (its demo project).

  .venv/bin/python Tests/Browser/docs_screenshots.py --base-url http://127.0.0.1:8080 --admin-token "$(cat .data/admin-token)"

Not part of make test (the browser tests save their own screenshots to .build/ui-screenshots). Before it, let an SDK
evaluate the demo flags (the Python snippet make run prints) so that the evaluation chart has data.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--out", default="docs/images")
    args = parser.parse_args()
    t = harness.Session(args.base_url, args.admin_token, args.out)
    try:
        t.driver.set_window_size(1280, 820)
        t.open("/ui/")
        t.wait_testid("token")
        t.screenshot("dashboard-sign-in")
        t.sign_in(path="/ui/projects/demo/flags?env=production")
        t.wait_testid("flag-new-checkout")
        t.wait(lambda: "…" not in t.wait_testid("last-eval-new-checkout").text, 10, "insights")
        t.screenshot("dashboard-flags")
        t.click_testid("toggle-new-checkout")
        t.wait_testid("comment").send_keys("INC-1234: checkout errors")
        t.screenshot("dashboard-toggle-confirm")
        t.click_testid("cancel")
        t.open("/ui/projects/demo/flags/banner-text?env=production")
        t.wait_testid("targeting-editor")
        t.wait_testid("last-evaluated")
        t.screenshot("dashboard-flag")
        t.js("document.querySelector('[data-testid=\"rule-0\"]').scrollIntoView()")
        t.screenshot("dashboard-flag-rules")
        t.js("document.querySelector('[data-testid=\"compare\"]').scrollIntoView()")
        t.screenshot("dashboard-flag-compare")
        t.open("/ui/projects/demo/audit")
        t.wait_css('[data-testid="audit-entries"] article')
        t.screenshot("dashboard-audit")
        t.open("/ui/projects/demo")
        t.wait_testid("environment-production")
        t.screenshot("dashboard-environments")
        t.open("/ui/tokens")
        t.wait_testid("tokens")
        t.screenshot("dashboard-tokens")
    finally:
        t.quit()


if __name__ == "__main__":
    main()
