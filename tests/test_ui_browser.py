"""End to end through the Dagster UI in a real headless Chromium.

The asset job runs on the embedded default (breast_cancer) with small budgets into a temporary
DAGSTER_HOME; then dagster-webserver serves that same instance from the repo's workspace.yaml, and
the browser checks what a person would look at: the asset graph, and lift_report's latest
materialization with its lift table and plot. Screenshots land in ``test-artifacts/ui/``.

Chromium is Debian's (/usr/bin/chromium, installed by scripts/install_browser.sh) driven by
Playwright for Python, which never downloads a browser of its own when given executable_path.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM = Path(os.environ.get("SYNTHLIFT_CHROMIUM", "/usr/bin/chromium"))
# Flags that let Chromium run as root in a container with no network beyond loopback.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SERVER_START_SECONDS = 120
SERVER_STOP_SECONDS = 15
PAGE_TIMEOUT_MS = 30_000
LOCATIONS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
ASSETS = ["raw_dataset", "evaluation_plan", "gan_generator", "synthetic_samples", "lift_report", "published_dataset"]
GROUP = "synthlift"
DATASET = "breast_cancer"  # the embedded default: both the source and the partition key
SMALL_BUDGET = {
    "ops": {
        "raw_dataset": {"config": {"source": DATASET}},
        "evaluation_plan": {"config": {"folds": 1}},  # one GAN to judge, not five: the UI is the point here
        "gan_generator": {"config": {"epochs": 20}},
        "lift_report": {"config": {"seeds": [0, 1]}},
    }
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run scripts/install_browser.sh"),
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install playwright (the browser is Debian's)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(base_url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base_url}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]


def wait_for_code_location(base_url: str, server: subprocess.Popen, log: Path) -> str:
    """Poll until the webserver answers and its code location has loaded; return the location's name."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            entries = graphql(base_url, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, KeyError, TypeError):
            entries = []
        for entry in entries:
            if entry["loadStatus"] != "LOADED":
                continue
            loaded = entry["locationOrLoadError"]
            if loaded["__typename"] == "PythonError":
                pytest.fail(f"code location {entry['name']} failed to load: {loaded['message']}")
            return entry["name"]
        time.sleep(1)
    pytest.fail(f"dagster-webserver did not load the code location in {SERVER_START_SECONDS} s:\n"
                f"{log.read_text()[-3000:]}")


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the webserver's process group (it and the code server it spawned), wait a bounded time,
    then SIGKILL whatever is left of the group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            continue


def create_instance_storage() -> None:
    """Create the SQLite storage and the dataset partition before the webserver opens the same files:
    two processes creating one fresh SQLite schema at once race ("table alembic_version already exists")."""
    from dagster import DagsterInstance

    from pipelines.partitions import DATASETS

    with DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(DATASETS, [DATASET])


def materialize_small_run(storage_root: Path) -> str:
    """Run every asset and check once on DagsterInstance.get() (the DAGSTER_HOME the UI will read)."""
    from dagster import DagsterInstance, materialize

    from pipelines.definitions import ASSET_CHECKS, ASSETS as ASSET_DEFS, build_resources
    from pipelines.resources import SynthliftStorage

    with DagsterInstance.get() as instance:
        result = materialize(
            [*ASSET_DEFS, *ASSET_CHECKS],
            run_config=SMALL_BUDGET,
            resources=build_resources(SynthliftStorage(root=str(storage_root))),
            instance=instance,
            partition_key=DATASET,
            raise_on_error=False,
        )
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert "lift_report" in materialized, f"lift_report was not materialized (got {sorted(materialized)})"
    return result.run_id


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory) -> Iterator[dict]:
    """A materialized run and a webserver showing it: {'url', 'location', 'run_id'}."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    storage_root = tmp_path_factory.mktemp("synthlift_home")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "dagster-webserver.log"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(home))
        env.setenv("SYNTHLIFT_HOME", str(storage_root))
        env.setenv("NO_ALBUMENTATIONS_UPDATE", "1")
        create_instance_storage()
        with log.open("w") as log_file:
            # Started first so it boots while the run trains; its own session, so one killpg ends it all.
            server = subprocess.Popen(
                [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                cwd=REPO, env=os.environ.copy(), stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            run_id = materialize_small_run(storage_root)
            location = wait_for_code_location(base_url, server, log)
            mark_community_dialog_seen(base_url)
            yield {"url": base_url, "location": location, "run_id": run_id}
        finally:
            stop_process_group(server)


@pytest.fixture
def page(dagster_ui, tmp_path):
    """A fresh headless Chromium page with its own empty profile."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


@contextmanager
def screenshot_on_failure(page, name: str) -> Iterator[None]:
    """Save what the browser showed when an assertion failed, beside the other screenshots."""
    try:
        yield
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"), full_page=True)
        raise


def mark_community_dialog_seen(base_url: str) -> None:
    """Dagster asks a first-time visitor on localhost to join its community, in a dialog that covers the page
    and can open seconds after the page has loaded; tell the server it was seen, as the dialog's Skip does."""
    graphql(base_url, "mutation { setNuxSeen }")
    assert graphql(base_url, "{ shouldShowNux }")["shouldShowNux"] is False


def show_markdown(page, metadata_key: str):
    """Open the '[Show Markdown]' dialog of one metadata entry and return the dialog."""
    row = page.locator("tr").filter(has=page.get_by_text(metadata_key, exact=True))
    row.get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog").filter(has_text=metadata_key)
    dialog.wait_for(state="visible")
    return dialog


def close_dialog(page, dialog) -> None:
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="hidden")


def test_the_ui_shows_the_asset_graph_and_the_lift_reports_table_and_plot(dagster_ui, page):
    # one test for both pages: each test worker that runs one would build its own run and webserver (about 90 s)
    asset_graph_shows_every_synthlift_asset(dagster_ui, page)
    lift_report_materialization_shows_the_lift_table_and_plot(dagster_ui, page)


def asset_graph_shows_every_synthlift_asset(dagster_ui, page):
    with screenshot_on_failure(page, "asset_graph"):
        page.goto(f"{dagster_ui['url']}/locations/{dagster_ui['location']}/asset-groups/{GROUP}",
                  wait_until="networkidle")
        graph_nodes = page.locator("svg foreignObject")
        for name in ASSETS:
            sync_api.expect(graph_nodes.filter(has=page.get_by_text(name, exact=True))).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "asset_graph.png"))


def lift_report_materialization_shows_the_lift_table_and_plot(dagster_ui, page):
    with screenshot_on_failure(page, "lift_report"):
        page.goto(f"{dagster_ui['url']}/assets/lift_report?view=events", wait_until="networkidle")
        # The latest event is selected, and it is this partition from the run this test made.
        headline = page.get_by_text(re.compile("materialized in run", re.IGNORECASE))
        sync_api.expect(headline).to_contain_text(dagster_ui["run_id"][:8])
        sync_api.expect(headline).to_contain_text(DATASET)
        for key in ("deciding_lift_table", "holdout_lift_table", "lift_plot", "balanced_accuracy_lift"):
            sync_api.expect(page.get_by_text(key, exact=True)).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "lift_report_events.png"))

        table = show_markdown(page, "deciding_lift_table")
        rendered = table.locator("table").first
        sync_api.expect(rendered.locator("th")).to_contain_text(["method", "balanced_accuracy"])
        sync_api.expect(rendered.locator("td", has_text="real+synthetic")).to_have_count(1)
        sync_api.expect(rendered.locator("td", has_text="real_only")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "lift_table.png"))
        close_dialog(page, table)

        plot = show_markdown(page, "lift_plot")
        image = plot.locator("img")
        sync_api.expect(image).to_have_count(1)
        sync_api.expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
        width, height = image.evaluate("img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])")
        assert width > 100 and height > 100, f"the lift plot did not render as a picture ({width}x{height})"
        page.screenshot(path=str(ARTIFACTS / "lift_plot.png"))
        close_dialog(page, plot)
