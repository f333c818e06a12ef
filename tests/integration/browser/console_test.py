#!/usr/bin/python3
"""The admin console in a real browser: headless Debian chromium driven through chromedriver by Selenium.

It starts `bridge demo` (the embedded store, the built-in Salesforce stand-in, the demo organizations and tokens)
on a free loopback port, reads what the demo prints, and walks both panels' login, loss and recovery through the
console's pages and the stand-in's login page, asserting on the pages' text. Every step saves a screenshot into the
output folder, whose path is printed at the end.

usage: console_test.py --bridge build/bridge/main/bridge --output DIR
"""

import argparse
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

CHROMIUM = "/usr/lib/chromium/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
STEP_SECONDS = 10  # every explicit wait in the browser
DEMO_START_SECONDS = 30
WHOLE_TEST_SECONDS = 120

# Fixture identities of the stand-in: the default service account, and one whose email is an active user of the
# demo organization 1043 (Carol), which the bridge must refuse as a service account.
SERVICE_ACCOUNT_ID = "005xx000001SvYbAAK"
END_USER_SALESFORCE_ID = "005xx0000012345"
EXPIRED_REASON = "invalid_grant: expired access/refresh token"


def fail(message):
    print("FAIL: " + message, file=sys.stderr, flush=True)
    sys.exit(1)


try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as error:
    fail("python3-selenium is missing (%s): scripts/setup.sh installs chromium, chromium-driver and "
         "python3-selenium; run it, or apt-get install them" % error)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Demo:
    """`bridge demo` as a child process, and what it printed."""

    def __init__(self, bridge, port):
        environment = dict(os.environ, BRIDGE_HTTP_PORT=str(port))
        self.process = subprocess.Popen([bridge, "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=environment, text=True)
        self.lines = queue.Queue()
        self.printed = []
        self.errors = []
        threading.Thread(target=self._pump, args=(self.process.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._collect, args=(self.process.stderr,), daemon=True).start()

    @staticmethod
    def _pump(stream, lines):
        for line in stream:
            lines.put(line)

    def _collect(self, stream):
        for line in stream:
            self.errors.append(line)

    def wait_for_guide(self):
        """Reads the demo's guide up to its last line (Operations: ...)."""
        deadline = time.monotonic() + DEMO_START_SECONDS
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                fail("bridge demo did not print its guide within %d s (exit %s); stderr:\n%s"
                     % (DEMO_START_SECONDS, self.process.poll(), "".join(self.errors[-30:])))
            try:
                line = self.lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            self.printed.append(line)
            if line.startswith("Operations:"):
                return "".join(self.printed)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def guide_value(guide, pattern, what):
    found = re.search(pattern, guide, re.MULTILINE)
    if not found:
        fail("bridge demo's guide does not show %s:\n%s" % (what, guide))
    return found.group(1)


def post_json(url, body, token=None):
    """A plain HTTP POST (the stand-in's control endpoints, the sync engine's broker request): (status, JSON)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=STEP_SECONDS) as answer:
            text = answer.read().decode()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as answer:
        text = answer.read().decode()
        return answer.code, json.loads(text) if text else None


class Console:
    """The browser and the steps an admin takes, each ending in a screenshot."""

    def __init__(self, output, base, tokens):
        self.output = output
        self.base = base
        self.tokens = tokens
        self.step = 0
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,1400",
                         "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-default-apps", "--password-store=basic", "--lang=en-US"):
            options.add_argument(argument)
        if os.geteuid() == 0:
            options.add_argument("--no-sandbox")  # chromium refuses to run as root with its sandbox
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(STEP_SECONDS)
        self.driver.set_script_timeout(STEP_SECONDS)

    def quit(self):
        self.driver.quit()

    def shot(self, name):
        self.step += 1
        path = os.path.join(self.output, "%02d-%s.png" % (self.step, name))
        self.driver.save_screenshot(path)
        self.check_url_has_no_token()
        print("step %02d: %s" % (self.step, name), flush=True)

    def check_url_has_no_token(self):
        url = self.driver.current_url
        for token in self.tokens.values():
            if token in url:
                fail("a bearer token is in the page's URL: " + url)

    def wait(self, condition, what):
        try:
            # An element read while the page navigates goes stale: the condition is asked again at the next poll.
            return WebDriverWait(self.driver, STEP_SECONDS, poll_frequency=0.1,
                                 ignored_exceptions=[StaleElementReferenceException]).until(lambda driver: condition())
        except TimeoutException:
            self.shot("failed-waiting")
            fail("waited %d s for %s; the page (%s) says:\n%s"
                 % (STEP_SECONDS, what, self.driver.current_url, self.page_text()))

    def page_text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def text(self, element_id):
        return self.driver.find_element(By.ID, element_id).text

    def visible(self, element_id):
        return self.driver.find_element(By.ID, element_id).is_displayed()

    def wait_text(self, element_id, expected):
        self.wait(lambda: self.text(element_id) == expected, "#%s to read %r (reads %r)"
                  % (element_id, expected, self.text(element_id)))

    def click(self, element_id):
        self.driver.find_element(By.ID, element_id).click()

    def open_console(self, view):
        # Through about:blank so that the same URL again is a fresh load (as the admin's F5), not a hash change.
        self.driver.get("about:blank")
        self.driver.get(self.base + "/console/#" + view)
        self.wait(lambda: self.driver.execute_script("return document.readyState") == "complete", "the console")

    def use_token(self, name):
        field = self.driver.find_element(By.ID, "token")
        field.clear()
        field.send_keys(self.tokens[name])
        self.click("save-token")
        self.wait(lambda: self.driver.execute_script(
            "return sessionStorage.getItem('bridge.console.token')") == self.tokens[name], "the token in sessionStorage")

    def sign_in_at_standin(self, salesforce_user_id, expected_host):
        """The stand-in's login page: choose the fixture identity, Log In."""
        self.wait(lambda: self.driver.title == "Login | Salesforce stand-in", "the stand-in's login page")
        if not self.driver.current_url.startswith(expected_host + "/services/oauth2/authorize"):
            fail("login page at %s, expected on %s" % (self.driver.current_url, expected_host))
        self.driver.find_element(By.ID, "user-" + salesforce_user_id).click()
        self.shot("standin-login-page")
        self.click("login-button")

    def back_to_console(self, headline):
        """The bridge's return page after the login, then its link back to the console."""
        self.wait(lambda: self.driver.find_element(By.TAG_NAME, "h1").text == headline,
                  "the return page saying %r" % headline)
        self.shot("return-page")
        text = self.page_text()
        self.click("console")
        self.wait(lambda: self.driver.current_url.startswith(self.base + "/console/"), "the console again")
        return text

    def row_of(self, table_id, name):
        for row in self.driver.find_elements(By.CSS_SELECTOR, "#%s tbody tr" % table_id):
            if name in row.text:
                return row
        return None

    def wait_row(self, table_id, name, expected):
        self.wait(lambda: (row := self.row_of(table_id, name)) is not None and expected in row.text,
                  "%s's row in #%s to show %r" % (name, table_id, expected))
        return self.row_of(table_id, name)

    def events(self, list_id):
        return [item.text for item in self.driver.find_elements(By.CSS_SELECTOR, "#%s li" % list_id)]

    def check_no_browser_errors(self):
        """Nothing the console loaded broke its own policy (an inline script would) or failed to load."""
        # Chromium asks every origin for /favicon.ico on its own; neither the bridge nor the stand-in serves one.
        severe = [entry["message"] for entry in self.driver.get_log("browser")
                  if entry["level"] == "SEVERE" and "/favicon.ico " not in entry["message"]]
        if severe:
            fail("the browser reported errors:\n" + "\n".join(severe))
        origins = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map((e) => new URL(e.name).origin)")
        foreign = [origin for origin in origins if origin != self.base]
        if foreign:
            fail("the console loaded from elsewhere than the bridge: %s" % foreign)


def lose_connection(standin, base, sync_token, legacy_user_id):
    """Salesforce expires the service account's refresh token, then the sync engine asks for an access token."""
    status, answer = post_json(standin + "/control/refresh-tokens/expire", {})
    if status != 200 or answer["expired"] < 1:
        fail("the stand-in expired no refresh token: %s %s" % (status, answer))
    broker = base + "/internal/v1/salesforce/access-token"
    # The cached access token would still be handed out: the sync engine reports it bad first, as after a 401.
    status, answer = post_json(broker + "/invalidate", {"legacyUserId": legacy_user_id}, sync_token)
    if status != 204:
        fail("invalidate answered %s %s" % (status, answer))
    status, answer = post_json(broker, {"legacyUserId": legacy_user_id, "client": "sync"}, sync_token)
    if status != 409 or answer.get("code") != "SYNC_SUSPENDED":
        fail("the broker request after the expiry answered %s %s, expected 409 SYNC_SUSPENDED" % (status, answer))


def new_panel(console, standin, base, sync_token):
    """Profiles > Connectivity: log in, lose the connection at the stand-in, Refresh, recovered."""
    console.open_console("modern")
    console.wait(lambda: "Paste a bearer token to start." in console.page_text(), "the console asking for a token")
    console.shot("console-without-token")

    console.use_token("ADMIN")
    console.wait_text("crm-status", "NotConnected")
    console.wait_row("modern-users", "Ann", "Enabled")
    if not console.visible("crm-login") or console.visible("crm-refresh"):
        fail("NotConnected must offer Log in with Salesforce only")
    console.check_no_browser_errors()
    console.shot("modern-not-connected")

    console.click("crm-login")
    console.sign_in_at_standin(SERVICE_ACCOUNT_ID, standin)
    console.back_to_console("Salesforce is connected")
    console.wait_text("crm-status", "Connected")
    console.wait(lambda: SERVICE_ACCOUNT_ID in console.text("crm-account"), "the service account's user id")
    if console.text("crm-environment") != "production":
        fail("environment reads %r" % console.text("crm-environment"))
    console.wait_row("modern-users", "Ann", "Enabled")
    console.shot("modern-connected")

    lose_connection(standin, base, sync_token, 77)
    console.open_console("modern")
    console.wait_text("crm-status", "Disconnected")
    console.wait_text("crm-error", EXPIRED_REASON)
    ann = console.wait_row("modern-users", "Ann", "Disabled")
    ann.click()
    console.wait_text("modern-user-status", "Disabled")
    console.wait_text("modern-user-reason", EXPIRED_REASON)
    if not any(event.startswith("20") and "lost" in event and EXPIRED_REASON in event
               for event in console.events("modern-events")):
        fail("the event history shows no loss: %s" % console.events("modern-events"))
    console.shot("modern-disconnected-user-disabled")

    console.click("crm-refresh")
    console.sign_in_at_standin(SERVICE_ACCOUNT_ID, standin)
    console.back_to_console("Salesforce is connected")
    console.wait_text("crm-status", "Connected")
    console.wait_text("crm-error", "")
    console.wait_row("modern-users", "Ann", "Enabled")
    console.wait_row("modern-users", "Bob", "Enabled")
    console.shot("modern-recovered")


def legacy_panel(console, standin, sandbox, base, sync_token):
    """Organizations > Salesforce Connectivity: toggle on, sandbox, sign in, lost dialog, Yes, refusal."""
    console.open_console("legacy")
    console.use_token("SUPPORT")
    organization = "1043"
    console.wait(lambda: any(option.get_attribute("value") == organization for option in
                             Select(console.driver.find_element(By.ID, "organization")).options),
                 "organization 1043 in the list")
    Select(console.driver.find_element(By.ID, "organization")).select_by_value(organization)
    # The name holds quotes, an ampersand and an emoji: it must read as written, not as markup.
    selected = Select(console.driver.find_element(By.ID, "organization")).first_selected_option.text
    if selected != 'Globex \u2728 "R&D" (1043)':
        fail("organization shown as %r" % selected)
    console.wait_text("legacy-status", "Salesforce connection is not established")
    if console.driver.find_element(By.ID, "legacy-toggle").is_selected():
        fail("the toggle starts on")
    if console.driver.find_element(By.ID, "legacy-sandbox").is_enabled():
        fail("Salesforce Sandbox is offered while the toggle is off")
    console.shot("legacy-not-connected")

    console.click("legacy-toggle")
    console.wait(lambda: console.driver.find_element(By.ID, "legacy-sandbox").is_enabled(), "the toggle switched on")
    console.shot("legacy-toggle-on")
    console.click("legacy-sandbox")
    console.sign_in_at_standin(SERVICE_ACCOUNT_ID, sandbox)
    console.back_to_console("Salesforce is connected")
    console.wait_text("legacy-status", "Salesforce connection established successfully")
    console.wait_text("legacy-user-id", SERVICE_ACCOUNT_ID)
    console.wait_text("legacy-environment", "sandbox")
    if console.visible("lost-dialog"):
        fail("the lost dialog shows on an established connection")
    console.shot("legacy-established")

    lose_connection(standin, base, sync_token, 91)
    console.open_console("legacy")
    console.wait(lambda: console.visible("lost-dialog"), "the lost dialog")
    console.wait_text("lost-message", "Salesforce connectivity was lost. Do you want to re-establish it?")
    console.wait(lambda: console.text("lost-reason").startswith(EXPIRED_REASON + " (since 20"), "the loss's reason")
    carol = console.wait_row("legacy-users", "Carol", "suspended")
    if "suspended" not in carol.get_attribute("class"):
        fail("a suspended user is not shown in red")
    carol.click()
    console.wait_text("legacy-user-notification", "Carol: " + EXPIRED_REASON)
    console.shot("legacy-lost-dialog")

    console.click("lost-yes")
    console.sign_in_at_standin(SERVICE_ACCOUNT_ID, sandbox)
    console.back_to_console("Salesforce is connected")
    console.wait_text("legacy-status", "Salesforce connection established successfully")
    console.wait(lambda: not console.visible("lost-dialog"), "the lost dialog gone")
    carol = console.wait_row("legacy-users", "Carol", "active")
    if "suspended" in (carol.get_attribute("class") or ""):
        fail("a recovered user is still red")
    console.shot("legacy-recovered")

    # Carol's own Salesforce account offered as the service account: refused, nothing changes. The stand-in learns
    # her identity, then gets its default back; its login page lists both.
    for identity in ({"userId": END_USER_SALESFORCE_ID, "username": "carol@globex.example",
                      "email": "carol@globex.example", "displayName": "Carol"}, {"userId": SERVICE_ACCOUNT_ID}):
        status, answer = post_json(standin + "/control/identity", identity)
        if status != 200:
            fail("the stand-in refused the identity %s: %s %s" % (identity, status, answer))
    console.click("legacy-sandbox")
    console.wait(lambda: console.driver.title == "Login | Salesforce stand-in", "the stand-in's login page")
    candidates = [element.get_attribute("value") for element in console.driver.find_elements(By.NAME, "login_user")]
    carol_id = next((value for value in candidates if value != SERVICE_ACCOUNT_ID), None)
    if carol_id is None:
        fail("the stand-in's login page does not offer Carol's identity: %s" % candidates)
    console.sign_in_at_standin(carol_id, sandbox)
    refusal = console.back_to_console("Salesforce is not connected")
    for expected in ("This Salesforce account belongs to one of the organization's users.",
                     "Code: SERVICE_ACCOUNT_IS_END_USER"):
        if expected not in refusal:
            fail("the refusal page lacks %r:\n%s" % (expected, refusal))
    console.wait_text("legacy-status", "Salesforce connection established successfully")
    console.wait_text("legacy-user-id", SERVICE_ACCOUNT_ID)
    console.wait(lambda: any("login_refused" in event and "SERVICE_ACCOUNT_IS_END_USER" in event
                             for event in console.events("legacy-events")), "the refusal in the event history")
    console.check_no_browser_errors()
    console.shot("legacy-end-user-refused")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bridge", required=True, help="the bridge executable")
    parser.add_argument("--output", required=True, help="folder for the screenshots (emptied first)")
    arguments = parser.parse_args()
    for program, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(program, os.X_OK):
            fail("%s is missing: scripts/setup.sh installs %s (apt-get install chromium chromium-driver "
                 "python3-selenium)" % (program, package))
    shutil.rmtree(arguments.output, ignore_errors=True)
    os.makedirs(arguments.output)

    # Bounds the whole test even if a step hangs somewhere no explicit wait covers.
    watchdog = threading.Timer(WHOLE_TEST_SECONDS, lambda: (print("FAIL: the test took more than %d s"
                                                                  % WHOLE_TEST_SECONDS, file=sys.stderr,
                                                                  flush=True), os._exit(1)))
    watchdog.daemon = True
    watchdog.start()

    started = time.monotonic()
    demo = Demo(arguments.bridge, free_port())
    console = None
    try:
        guide = demo.wait_for_guide()
        base = guide_value(guide, r"^\s*server:\s+(\S+)$", "the server")
        console_url = guide_value(guide, r"^Open the console:\s+(\S+)", "the console's URL first")
        if not guide.startswith("Open the console: " + base + "/console/"):
            fail("bridge demo does not print the console's URL first:\n" + guide)
        if console_url != base + "/console/":
            fail("the console's URL is %s" % console_url)
        standin = guide_value(guide, r"Salesforce stand-in:\s+(\S+)", "the stand-in")
        sandbox = standin.replace("127.0.0.1", "localhost")  # the demo's sandbox login host
        tokens = {name: guide_value(guide, r"export %s='([^']+)'" % name, name) for name in ("SUPPORT", "ADMIN",
                                                                                          "SYNC")}
        try:
            console = Console(arguments.output, base, tokens)
        except WebDriverException as error:
            fail("chromium did not start through chromedriver: %s" % error.msg)
        new_panel(console, standin, base, tokens["SYNC"])
        legacy_panel(console, standin, sandbox, base, tokens["SYNC"])
    finally:
        if console:
            console.quit()
        demo.stop()
        print("screenshots: %s" % os.path.abspath(arguments.output), flush=True)
    print("console browser test passed in %.1f s" % (time.monotonic() - started), flush=True)


if __name__ == "__main__":
    main()
