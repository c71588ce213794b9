"""The HTML report: its content, and that it renders offline in headless Chromium.

The browser test drives Debian's ``chromium`` over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: JSON messages ending in NUL on file descriptors 3 and 4), so it
needs nothing beyond the standard library. It loads the report unchanged, waits for the
load event, asks the page whether every image decoded, collects console messages,
exceptions, log entries and network requests, and saves a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import sim
import sim.report
from sim.cli import main
from sim.plots.data import load
from sim.plots.registry import figures
from sim.report import CSP, ensemble_report, write_report

RUNS = 30
SEED = 3


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    return Path(sim.run("taiwan-flashpoint-2025", runs=RUNS, seed=SEED, out=out).path)


@pytest.fixture(scope="module")
def report(folder: Path) -> Path:
    return write_report(folder)


# --- content ----------------------------------------------------------------------------------


class Parsed(HTMLParser):
    """Collects what the tests look at: images, links to outside, scripts, tables, text."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.external: list[str] = []
        self.scripts = 0
        self.tables = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self.tables += 1
        if tag in ("link", "iframe", "object", "embed", "source", "video", "audio"):
            self.external.append(f"<{tag}>")
        for key in ("src", "srcset"):
            value = a.get(key)
            if value and not value.startswith("data:"):
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> Parsed:
    parser = Parsed()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_report_is_one_self_contained_file(folder: Path, report: Path) -> None:
    assert report == folder / "report.html"
    page = parse(report)
    n_figures = len(figures("ensemble"))
    assert len(page.images) == n_figures
    for img in page.images:
        assert str(img["src"]).startswith("data:image/png;base64,")
        assert img.get("alt")
        png = base64.b64decode(str(img["src"]).split(",", 1)[1])
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert page.external == []
    assert page.scripts == 0
    assert CSP in report.read_text(encoding="utf-8")


def test_report_holds_tables_parameters_and_manifest(folder: Path, report: Path) -> None:
    summary = json.loads((folder / "summary.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    page = parse(report)
    text = " ".join(page.text)
    assert page.tables >= 8
    for o in summary["outcomes"].values():
        assert o["label"] in text
        assert f"{100 * o['p']:.1f}%" in text  # The outcome table's probabilities.
    for d in summary["peak_rung"]["distribution"]:
        assert f"{d['value']} {d['name']}" in text
    assert summary["cost_unit"] in text
    assert summary["events"], "the report's scenario should have exogenous events"
    for e in summary["events"].values():
        share = e["held"] if e["kind"] == "scheduled" else e["at_least_once"]
        assert e["name"] in text and f"{100 * share['p']:.1f}%" in text
    params = manifest["parameters"]
    for src in params["sources"]:
        assert src["citation"] in text
    for actor in params["actors"]:
        for lever in actor["levers"]:
            assert lever["id"] in text
    assert params["description"].split(".")[0] in text
    assert manifest["command"] in text
    assert manifest["content_hash"] in text


def test_report_of_an_interrupted_run_says_so(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / "cut"
    shutil.copytree(folder, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest.update(status="interrupted", runs=RUNS * 2)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    html = ensemble_report(load(copy), images=[])  # The figures are not what is tested here.
    assert "interrupted" in html
    assert f"{RUNS} of {RUNS * 2:,} replications completed" in html


@pytest.mark.parametrize("out", [None, "elsewhere/r.html"])
def test_cli_report_writes_where_asked(
    out: str | None, folder: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim.report, "build_report", lambda f: f"<html>{Path(f).name}</html>")
    target = folder / "report.html" if out is None else tmp_path / out
    args = ["report", str(folder)] + ([] if out is None else ["--out", str(target)])
    before = target.read_text() if target.exists() else None
    try:
        assert main(args) == 0
        assert capsys.readouterr().out.strip() == str(target)
        assert target.read_text() == f"<html>{folder.name}</html>"
    finally:
        if before is not None:  # Leave the module's real report as it was.
            target.write_text(before)


def test_report_of_a_comparison(tmp_path: Path) -> None:
    from sim.experiments.compare import compare

    variant = "taiwan-flashpoint-2025-us-backs-japan"
    folder = Path(compare("taiwan-flashpoint-2025", variant, runs=20, seed=1, out=tmp_path).path)
    path = write_report(folder)
    summary = json.loads((folder / "summary.json").read_text())
    page = parse(path)
    text = " ".join(page.text)
    assert len(page.images) == len(figures("comparison")) == 1
    assert page.external == [] and page.scripts == 0
    assert variant in text and "Paired differences" in text
    # The report shows the terminal's tables (sim.present): the outcome's label, the
    # difference in percentage points.
    for o in summary["outcomes"].values():
        assert o["label"] in text
        assert f"{abs(100 * o['difference']):.1f} pts" in text


def test_cli_report_of_a_missing_folder_is_a_clear_error(tmp_path: Path, capsys: Any) -> None:
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no such results folder" in err
    assert "Traceback" not in err


# --- rendering in headless Chromium -----------------------------------------------------------


def chromium() -> str | None:
    """Return the Chromium executable, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe (fds 3 and 4)."""

    def __init__(self, exe: str, profile: Path, timeout: float = 60.0) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire() -> None:  # In the child: the pipe ends become fds 3 (commands) and 4.
            os.dup2(to_chrome_r, 3, inheritable=True)
            os.dup2(from_chrome_w, 4, inheritable=True)

        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=wire,
            close_fds=False,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.deadline = time.monotonic() + timeout
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        self._next_id = 0
        self.session: str | None = None

    def send(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        """Send a command and return its result, keeping the events that arrive meanwhile."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        session = kw.get("session", self.session)
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        """Return the first event ``method`` (already received or still to come)."""
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read()
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = self.deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chrome], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the pipe: {self._stderr()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def _stderr(self) -> str:
        self.proc.kill()
        return (self.proc.communicate(timeout=10)[1] or b"").decode(errors="replace")[-2000:]

    def close(self) -> None:
        try:
            self.send("Browser.close", session=None)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


#: Asked of the loaded page: every image, whether it finished loading and decoded.
IMAGES_JS = """JSON.stringify(Array.from(document.images).map(i => ({
    complete: i.complete, width: i.naturalWidth, height: i.naturalHeight, alt: i.alt})))"""


def render(exe: str, page: Path, profile: Path, screenshot: Path) -> dict[str, Any]:
    """Load ``page`` in headless Chromium; return images, problems and requests seen."""
    tools = DevTools(exe, profile)
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        tools.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.send(f"{domain}.enable")
        viewport = {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False}
        tools.send("Emulation.setDeviceMetricsOverride", viewport)
        tools.send("Page.navigate", {"url": page.resolve().as_uri()})
        tools.wait_for("Page.loadEventFired")
        found = tools.send("Runtime.evaluate", {"expression": IMAGES_JS, "returnByValue": True})
        images = json.loads(found["result"]["value"])
        size = tools.send("Page.getLayoutMetrics")["cssContentSize"]
        shot = tools.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                         "scale": 0.5},
            },
        )  # fmt: skip
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    finally:
        tools.close()
    return {"images": images, **problems(tools.events)}


def problems(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Sort the browser's events into console errors, exceptions and outside requests."""
    errors, requests = [], []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(f"console: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            errors.append(f"exception: {params.get('exceptionDetails')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(f"log: {params['entry'].get('text')}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not re.match(r"(data|file):", url):
                requests.append(url)
    return {"errors": errors, "requests": requests}


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    exe = chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail(
                "chromium is not installed, and CI must run this test (.ci/run installs it)"
            )
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")
    screenshot = tmp_path / "report.png"
    seen = render(exe, report, tmp_path / "profile", screenshot)
    print(f"screenshot of the report: {screenshot}")
    assert len(seen["images"]) == len(figures("ensemble"))
    for img in seen["images"]:
        assert img["complete"] and img["width"] > 300 and img["height"] > 200, img
    assert seen["errors"] == []
    assert seen["requests"] == []
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    assert screenshot.stat().st_size > 50_000  # A page of text and figures, not a blank one.


def test_the_browser_check_sees_a_broken_image(report: Path, tmp_path: Path) -> None:
    """The check can fail: a report whose figure does not decode is caught."""
    exe = chromium()
    if exe is None:
        pytest.skip("chromium is not installed")
    broken = tmp_path / "broken.html"
    text = report.read_text(encoding="utf-8")
    broken.write_text(
        re.sub(r"data:image/png;base64,[^\"]{0,40}", "data:image/png;base64,AAAA", text, count=1)
    )
    seen = render(exe, broken, tmp_path / "profile", tmp_path / "broken.png")
    assert any(img["width"] == 0 for img in seen["images"])


def test_a_run_with_set_overrides_names_them_everywhere(
    duel_path: Path, tmp_path: Path, capsys: Any
) -> None:
    """Issue 18, item 2: the header, the figures' subtitle, the report's title and heading of
    a run with --set name its overrides (kept by a resume and by a comparison's variant); and
    `sim report` survives a library's warning (an empty legend: no rung reached)."""
    change = "actors.B.attributes.resolve=0.6"
    argv = ["run", str(duel_path), "--runs", "6", "--seed", "2", "--out", str(tmp_path)]
    assert main([*argv, "--set", change, "--quiet"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.endswith(f"(duel) with --set {change}")
    (folder,) = (tmp_path / "duel").iterdir()
    assert json.loads((folder / "summary.json").read_text())["overrides"] == [change]
    fig = sim.plots.outcome_probabilities(folder)
    assert any(f"[duel] with --set {change}" in t.get_text() for t in fig.texts)
    assert main(["report", str(folder)]) == 0
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert f"<title>Two actors with fixed delays (test fixture) with --set {change}:" in page
    assert f"with <code>--set {change}</code>" in page
    # sim.load keeps them with the scenario (not in its document or hash), so the Python
    # API says the same as the command line.
    loaded = sim.load(str(duel_path), [change])
    assert loaded.content_hash() != sim.load(str(duel_path)).content_hash()
    assert sim.run(loaded, runs=6, seed=2).summary["overrides"] == [change]
    # A run without overrides says nothing of them.
    plain = sim.run(str(duel_path), runs=6, seed=2)
    assert "overrides" not in plain.summary
    from sim.present.summary import header as text_header

    assert text_header(plain.summary).splitlines()[0].endswith("(test fixture) (duel)")
    # A comparison's variant arm carries the overrides; its base does not.
    paired = sim.compare(str(duel_path), runs=6, seed=2, overrides=[change])
    assert paired.variant.summary["overrides"] == [change]
    assert "overrides" not in paired.base.summary
