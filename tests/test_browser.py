"""`infogap viz` in a real browser: Debian's headless Chromium driven by Playwright.

Each page is served by its own `infogap viz` process on a free loopback port
and stopped through its process handle, as Ctrl+C would. The pages must work
offline, so any request that leaves the machine, or any asset the server
cannot serve, fails the test. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import ipyvuetify as v
import pytest
import solara

from simulator.viz.app import Page, TwinPage
from simulator.viz.charts import CHARTS
from simulator.viz.controls import CHOICES, SLIDERS, mechanism_switches
from simulator.viz.server import warm_up
from simulator.viz.setup import setup_from_env

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START_TIMEOUT = 90  # seconds for a server to print its address and answer (2 busy cores)
UI_TIMEOUT = 30_000  # milliseconds for the page to react to a click


class VizServer:
    """An `infogap viz` process on a free loopback port, stopped by its own handle."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "viz", "--port", "0", *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = ""

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_ready(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while not self.url:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                pytest.fail(f"infogap viz printed no address:\n{''.join(self.output)}")
            if " at http://" in line:
                self.url = line.rsplit(" at ", 1)[1].strip()
        assert urlparse(self.url).hostname == "127.0.0.1"  # loopback by default
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return self.url
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"{self.url} did not answer:\n{''.join(self.output)}")

    def stop(self) -> int:
        """Ctrl+C through the process handle; kill only if it does not stop."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs it with apt-get")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def servers(chromium):
    """The one-arm page and the twin page of the default scenario, started together."""
    started = {"single": VizServer(), "twin": VizServer("--twin")}
    try:
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        codes = {name: server.stop() for name, server in started.items()}
    for name, server in started.items():
        assert codes[name] == 0, f"{name}: exit {codes[name]}\n{''.join(server.output)}"
        assert "infogap viz: stopped" in "".join(server.output)


#: Marks the time of the next click in the page, and what every picture showed before it.
BEFORE_STEP = """() => {
    window.infogapBefore = Array.from(document.querySelectorAll(
        'main img, .solara-content-main img'), e => e.src);
    window.infogapClickAt = null;
    document.addEventListener('click', () => { window.infogapClickAt = performance.now(); },
                              {capture: true, once: true});
}"""

#: The milliseconds from that click until every status line names the step and every
#: picture is a new, decoded image (false until then).
STEP_SHOWN = """want => {
    const lines = Array.from(document.querySelectorAll('.infogap-market-line'), e => e.innerText);
    if (!lines.length || !lines.every(t => t.includes(want))) return false;
    const imgs = Array.from(document.querySelectorAll('main img, .solara-content-main img'));
    const before = window.infogapBefore;
    if (imgs.length !== before.length) return false;
    if (!imgs.every((img, i) => img.src !== before[i] && img.complete && img.naturalWidth > 0))
        return false;
    return performance.now() - window.infogapClickAt;
}"""


def report_step_times(capsys, page: str, seconds: list[float], where: str = "browser",
                      what: str = "from the click on Step to every picture redrawn") -> None:
    """Print how long each Step took (no assertion: speed targets live in benchmarks/),
    past pytest's capture so the log of `make test` has it. Step 1 also loads the
    compiled kernels from numba's cache."""
    shown = ", ".join(f"{s:.3f}" for s in seconds)
    with capsys.disabled():
        print(f"\n{where}: {page} page, seconds {what}, steps 1-{len(seconds)}: {shown} "
              f"(load {os.getloadavg()[0]:.2f})")


@solara.component
def _InLayout(page):
    """The page inside an AppLayout, as the server shows it."""
    with solara.AppLayout() as layout:
        page()
    return layout


def server_step_times(page, steps: int) -> list[float]:
    """Seconds each Step takes in this process, without a browser: Mesa's controller
    steps the model, then Solara renders the page and its pictures (all a server does
    for a Step but send the changed widgets). Like the server, it first loads the
    compiled kernels (`warm_up`)."""
    warm_up(setup_from_env(twin=page is TwinPage))
    _box, rc = solara.render(_InLayout(page), handle_error=False)
    step = rc.find(v.Btn, children=["Step"]).widget
    seconds = []
    for n in range(1, steps + 1):
        start = time.perf_counter()
        step.click()
        seconds.append(time.perf_counter() - start)
        [tiles] = [w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets
                   if "infogap-tiles" in (w.attributes or {}).get("class", "")]
        assert tiles.count(f"<b>step {n}</b>") == tiles.count("infogap-market-line") > 0
    rc.close()
    return seconds


class Watch:
    """A page plus every request that left the machine or found nothing."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1500, "height": 1050})
        self.page.set_default_timeout(UI_TIMEOUT)
        self.outside: list[str] = []
        self.missing: list[str] = []
        self.console: list[str] = []
        here = urlparse(url).netloc
        self.page.on("request", lambda r: self.outside.append(r.url)
                     if urlparse(r.url).scheme in ("http", "https", "ws", "wss")
                     and urlparse(r.url).netloc != here else None)
        self.page.on("response", lambda r: self.missing.append(f"{r.status} {r.url}")
                     if r.status >= 400 else None)
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}")
                     if m.type in ("warning", "error") else None)
        self.page.goto(url)
        self.page.get_by_role("button", name="Step").wait_for()

    def images(self) -> list[str]:
        """The chart and market-view images (PNG data URLs) in the main area."""
        return self.page.eval_on_selector_all(
            "main img, .solara-content-main img",
            "els => els.filter(e => e.naturalWidth > 0).map(e => e.src)")

    def all_redrawn(self, before: list[str]) -> bool:
        """Every image differs from `before` (False while one is still loading, when fewer
        images have decoded than there were)."""
        now = self.images()
        return len(now) == len(before) and all(a != b for a, b in zip(before, now, strict=True))

    def step_to(self, n: int) -> None:
        self.page.get_by_role("button", name="Step").click()
        self.wait_until(lambda: all(f"step {n}:" in s for s in self.status()), f"step {n}")

    def timed_step(self, n: int) -> float:
        """Seconds from the click on Step (as the page saw it) until the page shows step n:
        the status lines say so and every picture is new and decoded. (Playwright's
        click itself, before the page sees it, is not counted.)"""
        self.page.evaluate(BEFORE_STEP)
        self.page.get_by_role("button", name="Step").click()
        shown = self.page.wait_for_function(STEP_SHOWN, arg=f"step {n}:", polling="raf")
        return shown.json_value() / 1000

    def status(self) -> list[str]:
        return self.page.locator(".infogap-market-line").all_inner_texts()

    def wait_until(self, check, what: str) -> None:
        deadline = time.monotonic() + UI_TIMEOUT / 1000
        while not check():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            self.page.wait_for_timeout(100)

    def offline_checks(self) -> None:
        assert self.outside == [], f"requests left the machine: {self.outside}"
        assert self.missing == [], f"assets the server could not serve: {self.missing}"

    def console_is_quiet(self) -> None:
        assert self.console == [], f"the browser console warned: {self.console}"

    def no_placeholders(self) -> None:
        """Nothing of Mesa's generic frame that says nothing about this market."""
        for text in ("Page 0", "Use Threads", "Information"):
            assert self.page.get_by_text(text, exact=True).count() == 0, text
        assert self.page.get_by_text("Time:").count() == 0
        assert self.page.locator(".v-tab").count() == 0


def test_single_page_renders_steps_and_resets_with_a_new_regime(chromium, servers, capsys):
    watch = Watch(chromium, servers["single"].url)
    page = watch.page
    for label in [*CHOICES.values(), *(s[0] for s in SLIDERS.values()),
                  *mechanism_switches().values(), "Seed"]:
        assert page.get_by_text(label, exact=True).first.is_visible(), label
    watch.wait_until(lambda: len(watch.images()) == 1 + len(CHARTS), "the charts")
    watch.wait_until(lambda: "step 0:" in watch.status()[0], "the status line")
    before = watch.images()
    watch.no_placeholders()
    # What is shown, said in words, and every slider's value in sight.
    intro = page.locator(".infogap-intro").inner_text()
    assert intro.startswith("lemons: asymmetric") and "Akerlof" in intro
    assert len(page.locator(".infogap-caption").all_inner_texts()) == len(CHARTS)
    values = page.locator(".infogap-slider-value").all_inner_texts()
    assert values[-len(SLIDERS):] == ["200", "100", "2.25", "0.15"]  # lemons.toml's market

    report_step_times(capsys, "single", [watch.timed_step(n) for n in range(1, 6)])
    report_step_times(capsys, "single", server_step_times(Page, 5), "server",
                      "from Step to the rendered page (no browser)")
    watch.wait_until(lambda: watch.all_redrawn(before), "every chart to redraw")
    watch.wait_until(lambda: "step 5" in watch.status()[0], "the status line")
    assert "information asymmetric" in watch.status()[0]

    page.locator(".v-select").filter(has_text="Information regime").click()
    page.get_by_role("option", name="transparent", exact=True).click()
    page.get_by_role("button", name="Reset").click()
    watch.wait_until(lambda: "information transparent" in watch.status()[0],
                     "the reset market to use the new regime")
    assert "step 0:" in watch.status()[0]
    watch.step_to(1)
    watch.wait_until(lambda: "step 1" in watch.status()[0], "a step of the new market")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "viz-single.png")

    # A mistyped seed: Reset still builds a market, and the page says what was wrong.
    seed = page.get_by_label("Seed")
    seed.fill("x1")
    seed.press("Enter")
    page.get_by_role("button", name="Reset").click()
    page.locator(".infogap-problem").filter(has_text="found 'x1'; running seed 0").wait_for()
    watch.offline_checks()
    watch.console_is_quiet()
    page.close()


def test_twin_page_steps_both_arms_in_lockstep(chromium, servers, capsys):
    watch = Watch(chromium, servers["twin"].url)
    page = watch.page
    for label in ("Left arm", "Right arm", "Buyers", "Seed"):
        assert page.get_by_text(label, exact=True).first.is_visible(), label
    assert page.get_by_text("Information regime", exact=True).count() == 0
    watch.wait_until(lambda: len(watch.images()) == 2 + len(CHARTS), "the charts")
    watch.no_placeholders()
    assert page.locator(".infogap-intro").inner_text().startswith(
        "lemons: asymmetric vs transparent")

    report_step_times(capsys, "twin", [watch.timed_step(n) for n in range(1, 6)])
    report_step_times(capsys, "twin", server_step_times(TwinPage, 5), "server",
                      "from Step to the rendered page (no browser)")
    watch.wait_until(lambda: all("step 5" in s for s in watch.status()), "both arms to step")
    left, right = watch.status()
    assert left.startswith("asymmetric") and right.startswith("transparent")
    assert "information = asymmetric" in left and "information = transparent" in right

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "viz-twin.png")
    watch.offline_checks()
    watch.console_is_quiet()
    page.close()
