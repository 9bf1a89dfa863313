"""`supersonic monitor` and `supersonic report` on a real short run (CartPole, ASHA, three
candidates, two actors: about 30 s on 2 cores), checked against the run's ledger; the report
in headless Chromium; damaged event files."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from supersonic.monitor.events import EventFile, read_all
from supersonic.monitor.live import RECENT_DECISIONS, follow, render
from supersonic.monitor.state import fold

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

# PPO and IMPALA with small rollouts, and an A2C: rungs of 1000 and 3000 env steps, the top
# third of the first rung promoted, so two candidates are stopped at 1000 and one wins.
CONFIG = """
[run]
name = "monitor"
task = "cartpole"
actors = 2
seed = 1
steps_per_candidate = 3000
batch_size = 64
eval_initial = true
baseline_random = false
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 8.0

[search]
strategy = "asha"
min_budget = 1000
reduction_factor = 3
concurrent = 2

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
hyperparameters = { rollout_steps = 256, minibatch_size = 64, epochs = 4, lr = 0.001 }

[[candidates]]
name = "impala"
algorithm = "impala"
state_fn = "raw"
reward_fn = "env"
hyperparameters = { lr = 0.001, ent_coef = 0.0 }

[[candidates]]
name = "a2c"
algorithm = "a2c"
state_fn = "raw"
reward_fn = "env"
hyperparameters = { lr = 0.0003 }
"""
NAMES = ("ppo", "impala", "a2c")


def supersonic(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supersonic", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ledger(run_dir: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(run_dir / "ledger.sqlite") as db:
        return db.execute(query).fetchall()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("monitor")
    (tmp / "run.toml").write_text(CONFIG)
    run_dir = tmp / "run"
    out = supersonic("launch", str(tmp / "run.toml"), "--run-dir", str(run_dir), timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    # not a terminal: no progress bar in the output, only the usual lines
    assert "\r" not in out.stderr and "[#" not in out.stderr
    return run_dir


def expected_from_ledger(run_dir: Path) -> dict[str, Any]:
    """Per candidate its scores by stage; the rung scores; the best metric per program; the
    winner (the best at the highest rung) and who stopped where."""
    scores: dict[str, dict[str, float]] = {n: {} for n in NAMES}
    for candidate, stage, score in ledger(
        run_dir, "SELECT candidate, stage, score FROM evaluations"
    ):
        scores[candidate][stage] = score
    rungs = ledger(run_dir, "SELECT grp, budget, score FROM rung_scores ORDER BY seq")
    top = max(b for _, b, _ in rungs)
    at_top = {g: s for g, b, s in rungs if b == top}
    reached = {g: max(b for gg, b, _ in rungs if gg == g) for g, _, _ in rungs}
    best = dict(ledger(run_dir, "SELECT program, metric FROM best_results"))
    return {
        "scores": scores,
        "rungs": rungs,
        "winner": max(at_top, key=lambda g: at_top[g]),
        "stopped": {g: b for g, b in reached.items() if b < top},
        "best": best,
    }


def latest(scores: dict[str, float]) -> float:
    return max((int(k[1:]), v) for k, v in scores.items() if k.startswith("b"))[1]


def test_the_monitor_snapshot_shows_the_runs_candidates_and_numbers(run: Path) -> None:
    expected = expected_from_ledger(run)
    out = supersonic("monitor", "--once", str(run))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    results = json.loads((run / "results.json").read_text())
    assert f"finished: winner {expected['winner']}" in text
    rows = {line.split()[0]: line for line in text.splitlines() if line.split()[:1]}
    for c in results["candidates"]:
        name = c["spec"]["name"]
        row = rows[name]
        cells = row.split()
        assert f"{c['spec']['algorithm']} / raw / env" in row
        assert str(c["env_steps"]) in cells and str(c["budget"]) in cells
        assert f"{expected['scores'][name]['initial']:.3f}" in cells
        assert f"{latest(expected['scores'][name]):.3f}" in cells
        status = (
            "winner"
            if name == expected["winner"]
            else "stopped"
            if name in expected["stopped"]
            else "done"
        )
        assert cells[-1] == status, row
    # both actors, with their host, and the pruning decisions as they happened
    assert rows["actor-0"] and rows["actor-1"]
    # Every pruning and rung score is a decision; the snapshot shows the most recent ones
    # (a run whose actors were restarted has more decisions than fit).
    events, _ = read_all(run / "events.jsonl")
    decisions = [d.text for d in fold(events).decisions]
    for group, budget in expected["stopped"].items():
        assert f"{group}: stopped at {budget} env steps (pruned)" in decisions
    for group, budget, score in expected["rungs"]:
        assert f"{group}: scored {score:.4g} at rung {budget}" in decisions
    for line in decisions[-RECENT_DECISIONS:]:
        assert line in text


def test_the_event_state_agrees_with_the_ledger(run: Path) -> None:
    events, reader = read_all(run / "events.jsonl")
    assert reader.skipped == 0
    state = fold(events)
    expected = expected_from_ledger(run)
    assert set(state.candidates) == set(NAMES)
    for name, view in state.candidates.items():
        assert view.scores == pytest.approx(expected["scores"][name], abs=1e-4)
    assert [(r.group, r.budget) for r in state.rungs] == [(g, b) for g, b, _ in expected["rungs"]]
    assert [r.score for r in state.rungs] == pytest.approx([s for _, _, s in expected["rungs"]])
    assert state.winner == expected["winner"]
    assert {p: r.best for p, r in state.programs.items()} == pytest.approx(expected["best"])
    assert state.fraction_done() == 1.0
    assert len(state.throughput) >= 3 and len(state.actors) == 2
    assert all(c.curve for c in state.candidates.values())  # a learning curve for each


def test_every_event_of_the_run_is_in_the_catalogue(run: Path) -> None:
    from test_events import catalogue

    events, _ = read_all(run / "events.jsonl")
    names = {e.event for e in events}
    assert names - catalogue() == set()
    roles = {(e.role, e.id) for e in events}
    assert ("supervisor", "supervisor") in roles
    assert {("actor", "actor-0"), ("actor", "actor-1")} <= roles
    assert {("learner", f"learner-{n}") for n in NAMES} <= roles
    assert all(e.host for e in events)
    # the launch's own processes write the file directly: nothing arrives twice via forwarding
    assert not any("via" in e.fields for e in events)


def test_the_report_has_every_section_and_the_ledgers_numbers(run: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    out = supersonic("report", str(run), "--out", str(out_dir))
    assert out.returncode == 0, out.stderr
    page = (out_dir / "report.html").read_text()
    for name in ("learning_curves", "rungs", "programs", "throughput"):
        png = (out_dir / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
        assert f'id="fig-{name}"' in page
    # self-contained: no scripts, nothing fetched from anywhere
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    expected = expected_from_ledger(run)
    for name, scores in expected["scores"].items():
        assert f"<td>{name}</td>" in page
        for score in scores.values():
            assert f"{score:.4f}" in page
    for program, metric in expected["best"].items():
        assert f'<td>{program}</td><td class="num">{metric:.4f}</td>' in page
    for group, budget in expected["stopped"].items():
        assert f"{group} at {budget}" in page
    # CartPole has no compiler baselines: the section says so
    assert "This task has no compiler baselines" in page


def test_the_report_renders_in_headless_chromium(run: Path, tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    if shutil.which("chromedriver") is None or shutil.which("chromium") is None:
        pytest.skip("needs the Debian packages chromium and chromium-driver")
    from selenium.webdriver.common.by import By

    out = supersonic("report", str(run), "--out", str(tmp_path / "report"))
    assert out.returncode == 0, out.stderr
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.get((tmp_path / "report" / "report.html").resolve().as_uri())
        for section in ("summary", "candidates", "learning-curves", "rungs", "programs"):
            element = driver.find_element(By.ID, section)
            assert element.is_displayed() and element.size["height"] > 50, section
        element = driver.find_element(By.ID, "throughput")
        assert element.is_displayed()
        images = driver.find_elements(By.TAG_NAME, "img")
        assert len(images) == 4
        for img in images:  # decoded: a broken data URL has no natural size
            assert driver.execute_script("return arguments[0].naturalWidth", img) == 900
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1200, min(int(height) + 400, 10000))  # the whole page
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "report.png"
        assert driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 50_000
    finally:
        driver.quit()


def test_garbled_and_truncated_lines_are_skipped_and_counted(run: Path, tmp_path: Path) -> None:
    lines = (run / "events.jsonl").read_text().splitlines(keepends=True)
    damaged = tmp_path / "copy" / "events.jsonl"
    damaged.parent.mkdir()
    garbage = ["\x00\x01garbage\n", '{"event": "cut in the mid\n', "[1, 2, 3]\n", "\n"]
    half = len(lines) // 2
    cut_last = lines[-1][: len(lines[-1]) // 2]  # a crash in the middle of the last line
    damaged.write_text("".join(lines[:half] + garbage + lines[half:-1]) + cut_last)
    events, reader = read_all(damaged)
    assert reader.skipped == 4  # three garbage lines and the cut last one; blank lines are not
    assert len(events) == len(lines) - 1
    out = supersonic("monitor", "--once", str(damaged.parent))
    assert out.returncode == 0, out.stderr
    assert "skipped 4 lines of events.jsonl that were not events" in out.stdout
    for name in NAMES:
        assert any(line.startswith(name + " ") for line in out.stdout.splitlines())
    out = supersonic("report", str(damaged.parent))
    assert out.returncode == 0, out.stderr
    assert "skipped 4 lines" in out.stderr
    page = (damaged.parent / "report" / "report.html").read_text()
    assert '<td>lines skipped (not events)</td><td class="num">4</td>' in page


def test_the_live_view_follows_a_growing_file_and_ends_with_the_run(
    run: Path, tmp_path: Path
) -> None:
    data = (run / "events.jsonl").read_bytes()
    growing = tmp_path / "events.jsonl"
    growing.write_bytes(b"")
    # Write it in pieces that cut lines in the middle, as a live writer (or rsync) would.
    pieces = [data[i : i + 4000] for i in range(0, len(data), 4000)]

    def writer() -> None:
        with growing.open("ab") as f:
            for piece in pieces:
                f.write(piece)
                f.flush()
                time.sleep(0.01)

    thread = threading.Thread(target=writer)
    out = tmp_path / "view.txt"
    with out.open("w") as stream:
        thread.start()
        state = follow(growing, interval_s=0.02, stream=stream, quiet_s=0.5)
    thread.join()
    complete = fold(read_all(run / "events.jsonl")[0])
    assert state.winner == complete.winner and state.events == complete.events
    text = out.read_text()
    # snapshots of the run in progress were shown, with the share done and an ETA...
    assert re.search(r"progress: \d+% \(\d+ env steps of about 5000\), .* ETA \d", text)
    assert text.rstrip().endswith(render(complete).rstrip().splitlines()[-1])  # ...then the end
    # an incomplete last line is not taken before its newline arrives
    reader = EventFile(growing)
    assert len(reader.read()) == complete.events and reader.skipped == 0


def test_the_live_view_of_a_finished_run_ends_by_itself(run: Path) -> None:
    live = supersonic("monitor", str(run), "--interval", "0.2", timeout=60)
    once = supersonic("monitor", "--once", str(run))
    assert live.returncode == 0 and once.returncode == 0, live.stderr
    assert live.stdout.strip() == once.stdout.strip()  # not a terminal: one plain snapshot


# The best metric per program in the ledger of the LLVM run whose events (trimmed to the
# ones the report reads) are in tests/data/llvm-run-events.jsonl: ASHA over three candidates,
# rungs of 200 and 600 env steps, with random search (624 env steps).
LLVM_BEST = {
    "adler_fletcher": 0.8534201954397395,
    "base64": 0.8405511811023622,
    "radix_sort": 0.7599469496021221,
    "levenshtein": 0.7262737262737263,
    "topo_sort": 0.7105263157894737,
    "sudoku": 0.715046604527297,
}


def test_an_llvm_runs_report_compares_with_oz_o3_and_random(tmp_path: Path) -> None:
    from supersonic.monitor.report import program_baselines

    events_file = ROOT / "tests" / "data" / "llvm-run-events.jsonl"
    out = supersonic("report", str(events_file), "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "report.html").read_text()
    state = fold(read_all(events_file)[0])
    baselines = program_baselines(state)
    random = state.random_search
    assert random is not None
    for program, best in LLVM_BEST.items():
        uri = f"benchmark://supersonic-builtin-v0/{program}"
        details = state.programs[uri].details
        o0, oz, o3 = details["ir_o0"], details["ir_oz"], details["ir_o3"]
        row = baselines[uri]
        assert row["-Oz"] == 1.0
        assert row["-O3"] == pytest.approx((o0 - o3) / (o0 - oz))
        assert row["random search"] == random["metrics"][random["programs"].index(uri)]
        by = state.programs[uri].candidate
        numbers = [row["-O3"], row["-Oz"], row["random search"]]  # the columns' order
        expected_row = (
            f'<tr><td>{uri}</td><td class="num">{best:.4f}</td><td>{by}</td>'
            + "".join(f'<td class="num">{v:.4f}</td>' for v in numbers)
            + "</tr>"
        )
        assert expected_row in page
    assert "Not recorded by this run: greedy search." in page
    assert "no compiler baselines" not in page


def test_bad_run_directories_get_one_line_and_status_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "events.jsonl").write_text("not json\n")
    for command in ("monitor", "report"):
        for target, message in (
            (tmp_path / "missing", "no such run directory"),
            (tmp_path / "empty", "no events.jsonl here"),
            (tmp_path / "garbage", "no events"),
        ):
            args = [command, str(target)] + (["--once"] if command == "monitor" else [])
            out = supersonic(*args)
            assert out.returncode == 2, (command, target, out.stderr)
            assert out.stderr.startswith("error: ") and message in out.stderr
            assert len(out.stderr.strip().splitlines()) == 1
