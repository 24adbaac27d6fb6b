"""Progress lines: enough to follow a long step and see the time left, not one line per task."""

from assets.progress import count_progress, progress_logger


def test_counted_progress_logs_the_first_task_about_every_tenth_and_the_last():
    lines = []
    report = count_progress(lines.append, "lift: downstream fits")
    for done in range(1, 126):
        report(done, 125)
    counts = [int(line.split(": ")[-1].split("/")[0]) for line in lines]
    assert counts[0] == 1 and counts[-1] == 125
    assert 10 <= len(lines) <= 12  # 125 tasks, about one line per tenth
    assert all(later - earlier >= 12 for earlier, later in zip(counts[1:], counts[2:-1]))
    assert "left" in lines[1] and "left" not in lines[-1]


def test_counted_progress_logs_every_task_when_there_are_few():
    lines = []
    report = count_progress(lines.append, "final figures")
    for done in range(1, 6):
        report(done, 5)
    assert [line.split(": ")[-1].split(" ")[0] for line in lines] == ["1/5", "2/5", "3/5", "4/5", "5/5"]


def test_training_progress_logs_each_tenth_with_the_losses():
    from types import SimpleNamespace

    lines = []
    context = SimpleNamespace(log=SimpleNamespace(info=lines.append))
    report = progress_logger(context, "training final")
    for step in range(1, 301):
        report(step, 300, {"generator_loss": 1.5, "discriminator_loss": -0.25, "lr": 1e-3})
    assert len(lines) == 11 and lines[0].startswith("training final: step 1/300 (0%), about")
    assert lines[1].startswith("training final: step 30/300 (10%)")
    assert lines[-1] == "training final: step 300/300 (100%) generator_loss=1.500, discriminator_loss=-0.250"
