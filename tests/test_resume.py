"""A run killed mid-training (SIGKILL) and run again resumes from its last checkpoint."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

EPOCHS = 400  # the small table trains one step per epoch


def command(csv, out):
    return [sys.executable, "-m", "pipelines.cli", "run", str(csv), "--label", "outcome", "--out", str(out),
            "--epochs", str(EPOCHS), "--checkpoint-every", "20", "--lift-seeds", "2", "--folds", "1"]


@pytest.mark.slow
def test_a_killed_run_resumes_from_the_last_checkpoint_and_finishes_every_step(tmp_path, patients_csv):
    out = tmp_path / "out"
    checkpoint = out / "checkpoints" / "patients" / "gan_generator" / "fold_0" / "checkpoint.pt"
    first = subprocess.Popen(command(patients_csv, out), start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert checkpoint.exists(), "training never wrote a checkpoint"
    time.sleep(1.0)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL and checkpoint.exists()

    second = subprocess.run(command(patients_csv, out), capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-2000:]
    resumed = re.search(r"resumed from step (\d+)", second.stderr)
    assert resumed and 0 < int(resumed.group(1)) < EPOCHS
    assert f"step {EPOCHS}/{EPOCHS}" in second.stderr
    assert not checkpoint.exists()  # a finished run leaves no checkpoint for the next one to "resume"
