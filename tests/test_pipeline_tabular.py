"""End to end: the Dagster assets through `synthlift run`, on a small table, as a user runs them."""

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from pipelines.cli import main, print_outcome
from quality.publish.store import latest_publication

# 100 epochs: at 30 the generator still leaves blanks in the "sick" rows, which the validity check refuses
FAST = ["--epochs", "100", "--lift-seeds", "5"]


def run_cli(capsys, *args) -> tuple[int, dict, str]:
    code = main(["run", *args, "--json"])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    outcome = json.loads(lines[-1]) if code == 0 and lines else {}
    return code, outcome, captured.err


@pytest.mark.slow
def test_cli_runs_the_assets_and_reports_every_figure(tmp_path, capsys, patients_csv, any_min_lift):
    # two folds, not the rule's five (tests/test_plan.py covers the rule): every figure is reported all the same
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        code, outcome, _ = run_cli(capsys, str(patients_csv), "--label", "outcome", "--out", str(tmp_path), *FAST,
                                   "--min-lift", "-1", "--folds", "2")
        # its three GANs trained on one thread each, and the steps after them got both back
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    assert outcome["class_counts_before"]["sick"] < outcome["class_counts_before"]["well"]
    assert outcome["class_counts_after"]["sick"] == outcome["class_counts_after"]["well"]
    assert {c["name"] for c in outcome["checks"]} == {"validity", "fidelity", "diversity", "privacy"}
    assert all("passed" in c and c["metrics"] for c in outcome["checks"])
    gated = outcome["gate"]
    assert gated["evaluated_on"] == "2-fold cross-fit" and gated["ci_low"] <= gated["mean"] <= gated["ci_high"]
    assert gated["n_eval_rows"] == 200  # every row the user gave was judged
    assert gated["minimum_detectable_lift"] == pytest.approx((gated["ci_high"] - gated["ci_low"]) / 2)
    assert outcome["protocol"]["kind"] == "cross_fit" and outcome["protocol"]["deciding_rows"] == 200
    assert outcome["protocol"]["folds"] == 2
    assert outcome["lift"]["final"] is None  # a user's table has no outer holdout unless asked
    assert outcome["timings"]["lift_report"] > 0 and "gan_generator.train_generator_part[final]" in outcome["timings"]
    methods = set(outcome["lift"]["decision"]["scores"])
    assert {"real_only", "real+synthetic", "real+class_weights", "real+smote", "real+random_oversampling"} <= methods

    blocking_failed = [c for c in outcome["checks"] if c["blocking"] and not c["passed"]]
    if blocking_failed:  # min_lift=-1 means only a failed blocking check can reject
        assert outcome["decision"] == "rejected"
        return
    assert outcome["decision"] == "published"
    print_outcome(outcome, as_json=False)
    assert "over real+smote" in capsys.readouterr().out  # the plain output compares the GAN with each baseline
    version = latest_publication(tmp_path / "published", "patients")
    assert str(version) == outcome["output"]
    augmented = pd.read_parquet(version / "augmented.parquet")
    synthetic = pd.read_parquet(version / "synthetic.parquet")
    assert augmented["synthetic"].sum() == len(synthetic) > 0
    real = augmented[~augmented["synthetic"]].drop(columns=["synthetic", "model_version", "seed"])
    given = pd.read_csv(patients_csv)
    key = ["marker", "age"]
    pd.testing.assert_frame_equal(real.sort_values(key).reset_index(drop=True)[given.columns],
                                  given.sort_values(key).reset_index(drop=True), check_dtype=False,
                                  check_categorical=False)  # every real row the user gave is published
    counts = augmented["outcome"].value_counts()
    assert counts["sick"] == counts["well"]
    card = json.loads((version / "data_card.json").read_text())
    assert card["decision"] == "published" and card["model_version"] == synthetic["model_version"].iloc[0]
    assert (version / "data_card.md").read_text().startswith("# Data card: patients")


@pytest.mark.slow
def test_a_rejected_run_leaves_the_last_publication_untouched(tmp_path, capsys, patients_csv, any_min_lift):
    out = ["--out", str(tmp_path), "--label", "outcome", *FAST, "--folds", "1"]  # one GAN: the protocol is not the point
    code, first, _ = run_cli(capsys, str(patients_csv), *out, "--min-lift", "-1")
    assert code == 0
    before = latest_publication(tmp_path / "published", "patients")
    # five epochs: however the second run is rejected (by the lift or by a blocking check), nothing may change
    code, second, err = run_cli(capsys, str(patients_csv), *out, "--min-lift", "1.0", "--seed", "1", "--epochs", "5")
    assert code == 0 and second["decision"] == "rejected" and second["output"] is None
    assert err.strip().splitlines()[-1].startswith("synthlift: rejected, an honest decision (exit 0)")
    assert any("does not exceed min_lift=1.0" in r or "blocking check" in r for r in second["reasons"])
    assert latest_publication(tmp_path / "published", "patients") == before
    assert list((tmp_path / "published" / "patients" / "rejections").glob("*.json"))


def _variant(csv, tmp_path, mutate, name="variant.csv"):
    frame = mutate(pd.read_csv(csv))
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


BAD_TABLES = {
    "single class": (lambda f: f.assign(outcome="well"), "single class ('well')"),
    "null labels": (lambda f: f.assign(outcome=f["outcome"].where(f.index != 4)), "'outcome' has 1 missing value"),
    "all-null column": (lambda f: f.assign(notes=float("nan")), "column 'notes' is entirely empty"),
    "infinite values": (lambda f: f.assign(marker=f["marker"].where(f.index != 2, float("inf"))),
                        "column 'marker' has 1 infinite value"),
    "too few rows": (lambda f: pd.concat([f, f.head(3).assign(outcome="rare")]), "class 'rare'"),
}


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_each_bad_table_exits_non_zero_naming_the_culprit(tmp_path, capsys, patients_csv, case):
    mutate, message = BAD_TABLES[case]
    source = _variant(patients_csv, tmp_path, mutate)
    code = main(["run", source, "--label", "outcome", "--out", str(tmp_path / "out"), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1], err[-1:]
    assert not (tmp_path / "out" / "published").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.csv", "--label", "y"], "missing.csv: no such file"),
        (["{csv}", "--label", "diagnosis"], "label column 'diagnosis' not found; columns are"),
        (["{empty}", "--label", "y"], "empty.csv: the file is empty"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line_and_publishes_nothing(tmp_path, capsys, patients_csv, args, message):
    (tmp_path / "empty.csv").write_text("")
    args = [a.replace("{csv}", str(patients_csv)).replace("{empty}", str(tmp_path / "empty.csv")) for a in args]
    code = main(["run", *args, "--out", str(tmp_path), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert message in err[-1] and err[-1].startswith("synthlift: error: ")
    assert not any(line.lstrip().startswith('File "') for line in err), "stack traces buried the error"
    assert not (tmp_path / "published").exists()


def test_traceback_keeps_the_stack_traces_of_a_failed_run(tmp_path, capsys):
    code = main(["run", str(tmp_path / "missing.csv"), "--label", "y", "--out", str(tmp_path / "out"), "--traceback"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "missing.csv: no such file" in err[-1]
    assert any(line.lstrip().startswith('File "') for line in err)


def test_seeded_runs_generate_identical_rows(tmp_path, patients_csv):
    from dagster import AssetKey, DagsterInstance, materialize

    from pipelines.cli import build_parser, run_config_from_args
    from pipelines.definitions import ASSETS, build_resources
    from pipelines.partitions import DATASETS
    from pipelines.resources import SynthliftStorage

    args = build_parser().parse_args(["run", str(patients_csv), "--label", "outcome", "--epochs", "5", "--seed", "3"])
    config = run_config_from_args(args)
    config["ops"] = {k: v for k, v in config["ops"].items() if k in ("raw_dataset", "evaluation_plan", "gan_generator",
                                                                     "synthetic_samples")}
    frames = []
    for attempt in ("first", "second"):
        storage = SynthliftStorage(root=str(tmp_path / attempt))
        with DagsterInstance.ephemeral() as instance:
            instance.add_dynamic_partitions(DATASETS, ["patients"])
            result = materialize(ASSETS, run_config=config, resources=build_resources(storage), instance=instance,
                                 partition_key="patients",
                                 selection=[AssetKey(k) for k in config["ops"]])
            assert result.success
        frames.append(pd.read_parquet(tmp_path / attempt / "artifacts" / "synthetic_samples" / "patients"
                                      / "synthetic.parquet"))
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert len(frames[0]) > 0


@pytest.mark.slow
def test_a_failing_dataset_leaves_other_datasets_untouched(tmp_path, capsys, patients_csv, any_min_lift):
    out = ["--out", str(tmp_path)]
    code, first, _ = run_cli(capsys, str(patients_csv), "--label", "outcome", "--epochs", "5", "--lift-seeds", "5",
                             "--min-lift", "-1", *out)
    assert code == 0
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "artifacts").rglob("*") if "patients" in p.parts}
    latest = latest_publication(tmp_path / "published", "patients")

    broken = _variant(patients_csv, tmp_path, lambda f: f.assign(outcome="well"), name="other.csv")
    code = main(["run", broken, "--label", "outcome", "--json", *out])
    assert code == 2
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "artifacts").rglob("*") if "patients" in p.parts}
    assert after == before
    assert latest_publication(tmp_path / "published", "patients") == latest


@pytest.mark.slow
def test_a_failed_blocking_check_is_an_honest_rejection(tmp_path, patients_csv):
    from pipelines.cli import build_parser, run_config_from_args
    from pipelines.runner import run_augmentation

    args = build_parser().parse_args(["run", str(patients_csv), "--label", "outcome", "--epochs", "5"])
    config = run_config_from_args(args)
    config["resources"] = {"thresholds": {"config": {"min_table_spread_ratio": 100.0}}}  # diversity cannot pass
    outcome = run_augmentation(config, tmp_path, "patients")
    assert outcome["decision"] == "rejected" and outcome["output"] is None
    assert any("blocking check 'diversity' failed" in reason for reason in outcome["reasons"])
    assert any("lift was not measured" in reason for reason in outcome["reasons"])
    records = list((tmp_path / "published" / "patients" / "rejections").glob("*.json"))
    assert len(records) == 1  # one record per run, rewritten by each check
    record = json.loads(records[0].read_text())
    assert records[0].stem == record["run_id"] and record["config"]["run_config"]["ops"]["gan_generator"]
    assert {c["name"] for c in record["checks"]} == {"validity", "fidelity", "diversity", "privacy"}
    assert record["reasons"] == outcome["reasons"]
    assert latest_publication(tmp_path / "published", "patients") is None


def test_a_threshold_out_of_range_stops_the_run_naming_the_field(tmp_path, patients_csv):
    from pipelines.cli import build_parser, run_config_from_args
    from pipelines.runner import RunFailed, run_augmentation

    config = run_config_from_args(build_parser().parse_args(["run", str(patients_csv), "--label", "outcome"]))
    config["resources"] = {"thresholds": {"config": {"max_close_fraction": -1.0}}}
    with pytest.raises(RunFailed, match="resources could not be built.*max_close_fraction.*greater than or equal to 0"):
        run_augmentation(config, tmp_path, "patients", tracebacks=False)
    assert latest_publication(tmp_path / "published", "patients") is None


@pytest.mark.slow
def test_a_failed_fidelity_check_is_reported_and_stops_nothing(tmp_path, patients_csv, any_min_lift):
    from pipelines.cli import build_parser, run_config_from_args
    from pipelines.runner import run_augmentation

    args = build_parser().parse_args(["run", str(patients_csv), "--label", "outcome", *FAST, "--min-lift", "-1",
                                      "--folds", "1"])
    config = run_config_from_args(args)
    config["resources"] = {"thresholds": {"config": {"max_table_c2st_auc": 0.5}}}  # only indistinguishable rows pass
    outcome = run_augmentation(config, tmp_path, "patients")
    fidelity = next(c for c in outcome["checks"] if c["name"] == "fidelity")
    assert not fidelity["passed"] and not fidelity["blocking"]
    assert outcome["decision"] == "published", outcome["reasons"]
    card = json.loads((tmp_path / "published" / "patients" / "v0001" / "data_card.json").read_text())
    assert next(c for c in card["checks"] if c["name"] == "fidelity") == fidelity


@pytest.mark.parametrize("strategy, message", [
    ("0.05", "sampling_strategy ratio 0.05 asks class 'sick' for 0.05 x"),
    ('{"cured": 100}', "sampling_strategy names class 'cured', which is not among the classes"),
])
def test_a_strategy_that_does_not_fit_the_classes_stops_the_run_before_training(tmp_path, capsys, patients_csv,
                                                                                strategy, message):
    code = main(["run", str(patients_csv), "--label", "outcome", "--epochs", "2", "--sampling-strategy", strategy,
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err.strip().splitlines()[-1] and "plan_generator_training" in err
    assert "trained fold_" not in err
    assert not (tmp_path / "published").exists()


def test_bad_options_inside_a_step_fail_at_once_without_retries(tmp_path, patients_csv):
    from dagster import DagsterEventType, DagsterInstance, materialize

    from pipelines.cli import build_parser, run_config_from_args
    from pipelines.definitions import ASSETS, build_resources
    from pipelines.partitions import DATASETS
    from pipelines.resources import SynthliftStorage

    args = build_parser().parse_args(["run", str(patients_csv), "--label", "outcome", "--epochs", "2"])
    config = run_config_from_args(args)
    config["ops"]["gan_generator"]["config"]["per_class"] = True  # what the UI could ask of a table
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(DATASETS, ["patients"])
        result = materialize(ASSETS, run_config=config, resources=build_resources(SynthliftStorage(root=str(tmp_path))),
                             instance=instance, partition_key="patients", raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert "per_class mode is available for images only" in failures[0].step_failure_data.error.cause.message
    assert not any(e.event_type == DagsterEventType.STEP_UP_FOR_RETRY for e in result.all_events)


@pytest.mark.parametrize(
    "option, message",
    [
        (["--name", "../escaped"], "argument --name: '../escaped': use 1 to 63 lower-case letters"),
        (["--name", "a/b"], "argument --name: 'a/b'"),
        (["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
        (["--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
        (["--sampling-strategy", "foo"], "argument --sampling-strategy: sampling_strategy 'foo' is not understood"),
        (["--sampling-strategy", "{bad"], "argument --sampling-strategy: sampling_strategy '{bad' is not valid JSON"),
        (["--sampling-strategy", "2"], "argument --sampling-strategy: sampling_strategy ratio must be in (0, 1]"),
        (["--sampling-strategy", '{"sick": "many"}'], "target counts (a class's total rows after balancing) must be"),
        (["--sampling-strategy", '{"sick": 0}'], "must be whole numbers >= 1; bad: {'sick': 0}"),
        (["--sampling-strategy", "{}"], "sampling_strategy '{}' names no class"),
        (["--seed", "4294967296"], "argument --seed: must be at most 4294967295"),
        (["--min-lift", "-1"], "argument --min-lift: min_lift must be a finite number >= 0"),
        (["--min-lift", "nan"], "argument --min-lift: min_lift must be a finite number >= 0"),
        (["--image-steps", "5"], "--image-steps applies to images only, and this source is a table"),
        (["--per-class"], "--per-class applies to images only"),
        (["--device", "gpu"], "argument --device: 'gpu': use auto, cpu, cuda or cuda:N"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(tmp_path, capsys, patients_csv, option, message):
    code = main(["run", str(patients_csv), "--label", "outcome", "--out", str(tmp_path / "out"), *option, "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines() == [f"synthlift: error: {json.loads(captured.out)['error']}"]
    assert message in captured.err
    assert not (tmp_path / "out").exists()


def test_an_out_path_that_is_a_file_is_refused(tmp_path, capsys, patients_csv):
    afile = tmp_path / "afile"
    afile.write_text("")
    code = main(["run", str(patients_csv), "--label", "outcome", "--out", str(afile), "--json"])
    captured = capsys.readouterr()
    assert code == 2 and "is a file; give a folder" in captured.err.strip().splitlines()[-1]
    assert json.loads(captured.out.strip().splitlines()[-1])["error"].endswith("is a file; give a folder (it is created if missing)")


def test_a_failed_split_check_stops_the_run_naming_the_missing_class(tmp_path, capsys, patients_csv, monkeypatch):
    import assets.modalities.tabular as steps

    counted = steps.plan_sizes
    monkeypatch.setattr(steps, "plan_sizes", lambda data: {**counted(data), "holdout": {"well": 3, "sick": 0}})
    code = main(["run", str(patients_csv), "--label", "outcome", "--out", str(tmp_path), "--epochs", "5", "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert "every_class_in_every_part: classes missing from parts: {'holdout': ['sick']}" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["decision"] is None
    assert not (tmp_path / "published").exists()


def test_a_partition_name_that_could_leave_the_storage_folders_is_refused(tmp_path, patients_csv):
    from pipelines.cli import build_parser, run_config_from_args
    from pipelines.runner import RunFailed, run_augmentation

    config = run_config_from_args(build_parser().parse_args(["run", str(patients_csv), "--label", "outcome"]))
    with pytest.raises(RunFailed, match=r"raw_dataset: ValueError: dataset name '\.\./escaped': use 1 to 63"):
        run_augmentation(config, tmp_path / "out", "../escaped")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "out" / "published").exists()


def test_only_dagsters_console_logger_is_cut_to_one_line_and_only_during_the_run(tmp_path, capsys):
    import logging

    from pipelines.runner import DAGSTER_CONSOLE_LOGGER, _RunLogger

    main(["run", str(tmp_path / "missing.csv"), "--label", "y", "--out", str(tmp_path / "out")])
    assert logging.getLoggerClass() is logging.Logger
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "first\nsecond", (), None)
    assert _RunLogger("library").filter(record) and record.getMessage() == "first\nsecond"
    assert _RunLogger(DAGSTER_CONSOLE_LOGGER).filter(record) and record.getMessage() == "first"


@pytest.mark.parametrize("source", ["données.csv", "My Data (v2).csv", "x" * 100 + ".parquet", "../up/__a__.csv",
                                    "breast_cancer"])
def test_default_names_are_valid_partition_keys(source):
    import re

    from pipelines.catalog import NAME_PATTERN
    from quality.data.sources import default_dataset_name

    assert re.fullmatch(NAME_PATTERN, default_dataset_name(source)), default_dataset_name(source)


def test_default_names_keep_clean_stems_and_tell_altered_ones_apart():
    from quality.data.sources import default_dataset_name

    assert default_dataset_name("data/my_data.csv") == "my_data"
    assert default_dataset_name("breast_cancer") == "breast_cancer"
    altered = ["My Data.csv", "my data.csv", "患者.csv", "病人.parquet", "x" * 100 + ".csv", "x" * 101 + ".csv"]
    names = [default_dataset_name(source) for source in altered]
    assert len(set(names) | {"my_data"}) == len(names) + 1, names
    assert names[0].startswith("my_data-") and names[2].startswith("dataset-")


def test_an_output_folder_that_cannot_be_created_is_refused_before_anything_runs(tmp_path, capsys, patients_csv):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code = main(["run", str(patients_csv), "--label", "outcome", "--out", str(blocker / "out")])
    assert code == 2
    assert f"--out {blocker / 'out'}: cannot create or write there" in capsys.readouterr().err


def test_an_interrupt_during_training_stops_the_run_without_a_retry_or_a_publication(tmp_path, capsys, patients_csv,
                                                                                      monkeypatch):
    """Dagster turns an interrupt into a retry of a step with a retry policy; from the command line it must stop."""
    import assets.modalities.tabular as steps

    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(steps, "train_part", interrupted)
    code = main(["run", str(patients_csv), "--label", "outcome", "--out", str(tmp_path), "--epochs", "5", "--json"])
    captured = capsys.readouterr()
    assert code == 2 and len(calls) == 1
    assert json.loads(captured.out.strip().splitlines()[-1])["error"].endswith("interrupted; nothing was published")
    assert not (tmp_path / "published").exists()


def test_a_step_error_of_several_lines_is_reported_by_its_first(tmp_path, capsys):
    """pyarrow puts the cause first and a schema dump after it: the one-line error keeps the cause."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "twice.parquet"
    pq.write_table(pa.table([[1.0, 2.0], [3.0, 4.0], ["a", "b"]], names=["f", "f", "y"]), path)
    code = main(["run", str(path), "--label", "y", "--out", str(tmp_path / "out"), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert "twice.parquet: cannot be read as PARQUET" in json.loads(captured.out.strip().splitlines()[-1])["error"]


@pytest.mark.parametrize("where", ["storing", "loading"])
def test_an_interrupt_while_a_training_step_stores_or_loads_stops_the_run_without_a_retry(
        tmp_path, capsys, patients_csv, monkeypatch, where):
    """The training step's retry policy covers its inputs and outputs too, not only its body."""
    import assets.modalities.tabular as steps
    from pipelines.io_managers import ArtifactIOManager

    trained, pressed = [], []
    real_train = steps.train_part
    monkeypatch.setattr(steps, "train_part", lambda *a, **k: trained.append(1) or real_train(*a, **k))
    name = "_handle_output" if where == "storing" else "_load_input"
    real = getattr(ArtifactIOManager, name)

    def interrupted(self, context, *rest):
        step = context.step_key if where == "storing" else context.step_context.step.key
        if "train_generator_part" in step and not pressed:
            pressed.append(1)
            raise KeyboardInterrupt
        return real(self, context, *rest)

    monkeypatch.setattr(ArtifactIOManager, name, interrupted)
    code = main(["run", str(patients_csv), "--label", "outcome", "--out", str(tmp_path), "--epochs", "5", "--json"])
    captured = capsys.readouterr()
    assert code == 2 and len(trained) == (1 if where == "storing" else 0)
    assert json.loads(captured.out.strip().splitlines()[-1])["error"].endswith("interrupted; nothing was published")
    assert not (tmp_path / "published").exists()


def test_stems_that_differ_from_a_valid_name_only_in_case_are_lower_cased_without_a_hash():
    from quality.data.sources import default_dataset_name

    for source in ["Iris.csv", "HAM10000/", "BreastMNIST.npz", "data/Patients.parquet"]:
        assert default_dataset_name(source) == Path(source.rstrip("/")).stem.lower()
    assert default_dataset_name("sales.2024.csv").startswith("sales_2024-")



def _fake_publication(publish_root, name: str, **card) -> None:
    version = publish_root / name / "v0001"
    version.mkdir(parents=True)
    (version / "data_card.json").write_text(json.dumps({"model_version": "abc", **card}))
    (publish_root / name / "LATEST").write_text("v0001\n")


def test_a_name_whose_latest_publication_holds_images_is_refused_for_a_table(tmp_path, capsys):
    _fake_publication(tmp_path / "published", "clash", modality="image", source="medmnist_npz:/data/scans.npz")
    code = main(["run", "breast_cancer", "--name", "clash", "--out", str(tmp_path), "--epochs", "2", "--json"])
    error = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert code == 2
    assert "dataset name 'clash': its latest publication (abc) holds image data from medmnist_npz:/data/scans.npz" in error
    assert (tmp_path / "published" / "clash" / "LATEST").read_text() == "v0001\n"


def test_a_changed_source_under_a_published_name_is_warned_about():
    from quality.publish.store import published_source_warnings

    card = {"modality": "tabular", "source": "/a/train.csv"}
    assert published_source_warnings(None, "tabular", "/b/train.csv", "train") == []
    assert published_source_warnings(card, "tabular", "/a/train.csv", "train") == []
    assert published_source_warnings(card, "tabular", "/b/train.csv", "train") == [
        "dataset 'train' was last published from /a/train.csv; this run reads /b/train.csv (give it another name if "
        "it is another dataset)"]


def test_a_file_source_is_recorded_by_its_absolute_path(tmp_path, monkeypatch):
    from assets.ingest import resolved_dataset_config
    from pipelines.config import DatasetConfig
    from pipelines.resources import DatasetCatalog

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.csv").write_text("a,y\n1,0\n")
    monkeypatch.chdir(tmp_path)
    catalog = DatasetCatalog(path=str(tmp_path / "none.yaml"))
    for spelling in ("data/t.csv", "./data/t.csv", str(tmp_path / "data" / "t.csv")):
        assert resolved_dataset_config(DatasetConfig(source=spelling), "t", catalog).source == str(
            (tmp_path / "data" / "t.csv").resolve())
    assert resolved_dataset_config(DatasetConfig(source="wine"), "wine", catalog).source == "wine"
    assert resolved_dataset_config(DatasetConfig(source="missing.csv"), "m", catalog).source == "missing.csv"


def test_an_interrupt_outside_a_run_reaches_the_caller_unchanged(tmp_path):
    from dagster import build_input_context, build_output_context

    from pipelines.io_managers import ArtifactIOManager
    from pipelines.resources import SynthliftStorage

    class Interrupted(ArtifactIOManager):
        def _load_input(self, context):
            raise KeyboardInterrupt

        def _handle_output(self, context, obj):
            raise KeyboardInterrupt

    io = Interrupted(storage=SynthliftStorage(root=str(tmp_path)))
    with pytest.raises(KeyboardInterrupt):
        io.load_input(build_input_context())
    with pytest.raises(KeyboardInterrupt):
        io.handle_output(build_output_context(), object())


def test_a_symlinked_file_source_keeps_its_own_name(tmp_path, monkeypatch):
    """A Hugging Face or DVC cache links train.csv to a blob without a suffix: the source must stay a .csv."""
    import os

    from assets.ingest import resolved_dataset_config
    from pipelines.config import DatasetConfig
    from pipelines.resources import DatasetCatalog
    from quality.data.sources import modality_of

    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "9f3c1a2b").write_text("a,y\n1,0\n")
    (tmp_path / "snap").mkdir()
    os.symlink(tmp_path / "blobs" / "9f3c1a2b", tmp_path / "snap" / "train.csv")
    monkeypatch.chdir(tmp_path)
    catalog = DatasetCatalog(path=str(tmp_path / "none.yaml"))
    source = resolved_dataset_config(DatasetConfig(source="./snap/train.csv"), "t", catalog).source
    assert source == str((tmp_path / "snap").resolve() / "train.csv")
    assert modality_of(source) == "tabular"


def test_a_damaged_card_still_guards_the_modality_of_its_version(tmp_path):
    from quality.publish.store import published_source_warnings
    from quality.publish.store import latest_data_card

    version = tmp_path / "scans" / "v0001"
    version.mkdir(parents=True)
    (tmp_path / "scans" / "LATEST").write_text("v0001\n")
    (version / "manifest.parquet").write_bytes(b"")
    (version / "data_card.json").write_bytes(b'{"modality": "ima')
    card = latest_data_card(tmp_path, "scans")
    with pytest.raises(ValueError, match="holds image data"):
        published_source_warnings(card, "tabular", "/a/scans.csv", "scans")
    assert published_source_warnings(card, "image", "image_folder:/a/scans", "scans") == []


# Record numbers and the columns a user drops never reach the GAN.

def _trial_table(patients_csv, tmp_path) -> str:
    """The patients with the record numbers a trial's export carries: R's 'rownames' and a shuffled 'id'."""
    import numpy as np

    frame = pd.read_csv(patients_csv)
    frame.insert(0, "rownames", np.arange(1, len(frame) + 1))
    frame.insert(1, "id", np.random.default_rng(0).permutation(len(frame)) * 3 + 1001)
    path = tmp_path / "trial.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _columns_the_gan_sees(monkeypatch, stop: bool = False) -> list[list[str]]:
    """The columns of every frame a tabular GAN is fitted on; with ``stop``, the run stops at the first fit."""
    from gan_models.tabular import TabularGAN

    seen, fit = [], TabularGAN.fit

    def recording_fit(self, frame, *args, **kwargs):
        seen.append(list(frame.columns))
        if stop:
            raise ValueError("stopped once the GAN's columns were seen")
        return fit(self, frame, *args, **kwargs)

    monkeypatch.setattr(TabularGAN, "fit", recording_fit)
    return seen


@pytest.mark.slow
def test_record_numbers_are_dropped_with_a_warning_and_never_reach_the_gan(tmp_path, capsys, patients_csv,
                                                                           monkeypatch):
    from quality.data.record_numbers import NAMED_RECORD_NUMBER
    from quality.data.tables import TabularDataset

    seen = _columns_the_gan_sees(monkeypatch)
    out = tmp_path / "out"
    code, outcome, err = run_cli(capsys, _trial_table(patients_csv, tmp_path), "--label", "outcome", "--out", str(out),
                                 "--epochs", "5", "--lift-seeds", "2")
    assert code == 0 and outcome["decision"] in ("published", "rejected"), err[-2000:]
    for column in ("rownames", "id"):
        assert f"column {column!r} was dropped as a record number (distinct whole numbers, named like" in err
    assert seen and all(columns == ["age", "marker", "pressure", "smoker", "outcome"] for columns in seen)
    stored = TabularDataset.load(out / "artifacts" / "raw_dataset" / "trial")
    assert stored.dropped_columns == {"rownames": NAMED_RECORD_NUMBER, "id": NAMED_RECORD_NUMBER}
    synthetic = pd.read_parquet(out / "artifacts" / "synthetic_samples" / "trial" / "synthetic.parquet")
    assert {"rownames", "id"}.isdisjoint(synthetic.columns)


def test_drop_and_keep_on_the_command_line_decide_what_reaches_the_gan(tmp_path, capsys, patients_csv, monkeypatch):
    seen = _columns_the_gan_sees(monkeypatch, stop=True)
    code, _, err = run_cli(capsys, _trial_table(patients_csv, tmp_path), "--label", "outcome",
                           "--out", str(tmp_path / "out"), "--epochs", "5", "--lift-seeds", "2",
                           "--drop", "smoker", "--drop", "pressure", "--keep", "rownames")
    assert code == 2 and "stopped once the GAN's columns were seen" in err.strip().splitlines()[-1]
    assert seen[0] == ["rownames", "age", "marker", "outcome"]
    assert "column 'id' was dropped as a record number" in err and "column 'rownames' was dropped" not in err


@pytest.mark.parametrize("args, message", [
    (["{csv}", "--label", "outcome", "--drop", "nope"],
     "patients.csv: --drop (drop_columns) names 'nope', not a column of the table; columns are ['age', 'marker', "
     "'pressure', 'smoker', 'outcome']"),
    (["{csv}", "--label", "outcome", "--keep", "Age"], "--keep (keep_columns) names 'Age', not a column of the table"),
    (["{csv}", "--label", "outcome", "--drop", "outcome"], "names the label column 'outcome'; the label cannot be"),
    (["digits", "--drop", "pixel_0"], "--drop applies to tables only, and this source is images"),
    (["digits", "--keep", "pixel_0"], "--keep applies to tables only, and this source is images"),
])
def test_columns_that_cannot_be_dropped_or_kept_are_refused_in_one_line(tmp_path, capsys, patients_csv, args,
                                                                         message):
    args = [arg.replace("{csv}", str(patients_csv)) for arg in args]
    code = main(["run", *args, "--out", str(tmp_path / "out"), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("synthlift: error: ") and message in err[-1], err[-1:]
    assert not (tmp_path / "out" / "published").exists()


def test_columns_to_drop_in_a_hand_written_run_config_are_refused_for_images(tmp_path):
    from assets.ingest import resolved_dataset_config
    from pipelines.config import DatasetConfig
    from pipelines.resources import DatasetCatalog

    catalog = DatasetCatalog(path=str(tmp_path / "none.yaml"))
    with pytest.raises(ValueError, match="drop_columns applies to tables only, and this source is images"):
        resolved_dataset_config(DatasetConfig(source="digits", drop_columns=["x"]), "digits", catalog)
    kept = resolved_dataset_config(DatasetConfig(source="wine", keep_columns=["proline"]), "wine", catalog)
    assert kept.keep_columns == ["proline"] and kept.source == "wine"
    (tmp_path / "catalog.yaml").write_text("datasets:\n  - {name: vinho, source: wine, drop_columns: [proline]}\n")
    from_entry = resolved_dataset_config(DatasetConfig(), "vinho", DatasetCatalog(path=str(tmp_path / "catalog.yaml")))
    assert from_entry.source == "wine" and from_entry.drop_columns == ["proline"] and from_entry.keep_columns == []
