"""The data card: the JSON record of a run and its Markdown rendering."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from quality.lift.report import REAL_ONLY
from quality.report.markdown import format_figure, markdown_table

DATA_CARD = "data_card.json"


def write_data_card(directory: Path, card: dict[str, Any]) -> None:
    (directory / DATA_CARD).write_text(json.dumps(card, indent=2, default=str))
    (directory / "data_card.md").write_text(render_data_card(card))


def render_data_card(card: dict[str, Any]) -> str:
    """The data card as Markdown: what was published, from what, and the evidence for it."""
    lines = [
        f"# Data card: {card.get('dataset')}",
        "",
        f"- **Decision**: {card.get('decision')}",
        f"- **Source**: `{card.get('source')}` ({card.get('modality')})",
        f"- **Created**: {card.get('created_at')}",
        f"- **Model version**: `{card.get('model_version')}`",
        *[f"- {line}" for line in protocol_lines(card)],
        "",
        "## Why",
        *[f"- {reason}" for reason in card.get("reasons", [])],
        "",
        "## Class counts (real rows published, and after augmentation)",
        markdown_table(
            ["class", "real", "after augmentation"],
            [[c, n, card.get("class_counts_after", {}).get(c, "")]
             for c, n in card.get("class_counts_before", {}).items()],
        ),
        "",
        "## Quality checks",
        checks_table(card.get("checks", [])),
    ]
    if card.get("curation"):
        lines += ["", "## Curation (before the checks and the gate)", curation_table(card["curation"])]
    for title, report in card.get("lift", {}).items():
        if report:
            lines += ["", f"## Downstream lift ({title}: evaluated on the {report['evaluated_on']})",
                      lift_table(report)]
    if card.get("lift_notes"):
        lines += ["", card["lift_notes"]]
    lines += ["", "## Configuration", "```json", json.dumps(card.get("config", {}), indent=2, default=str), "```"]
    return "\n".join(lines) + "\n"


def protocol_lines(record: dict[str, Any]) -> list[str]:
    """How the lift of a card (or the command's summary) was proved, and the smallest lift its rows could show."""
    protocol, gate = record.get("protocol"), record.get("gate") or {}
    lines = []
    if protocol:
        drawn = f" drawn {protocol['repeats']} times" if protocol.get("repeats", 1) > 1 else ""
        lines.append(f"protocol: {protocol['kind']}, {protocol['folds']} fold(s){drawn}, {protocol['deciding_rows']} rows "
                     f"decided, {protocol['holdout_rows']} held out ({protocol['reason']})")
    if "minimum_detectable_lift" in gate:
        lines.append(f"power: these rows can tell a {gate['metric']} lift of about "
                     f"{gate['minimum_detectable_lift']:.3f} or more from noise (half the interval's width)")
    versus = baseline_line(record)
    return lines + ([versus] if versus else [])


def baseline_lifts(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The gated method's lifts over each classic baseline on the rows that decided, in the gate's metric."""
    gate, report = record.get("gate") or {}, (record.get("lift") or {}).get("decision")
    if not gate or not report:
        return []
    return [lift for lift in report["lifts"] if lift["method"] == gate["method"]
            and lift["reference"] != REAL_ONLY and lift["metric"] == gate["metric"]]


def baseline_line(record: dict[str, Any]) -> str | None:
    """real+synthetic against each classic baseline on the rows that decided, and a plain word when one did better:
    a user who gates on real only should still learn that SMOTE or class weights beat the GAN on their rows."""
    versus = baseline_lifts(record)
    if not versus:
        return None
    gate = record["gate"]
    figures = "; ".join(f"{lift['mean']:+.3f} [{lift['ci_low']:+.3f}, {lift['ci_high']:+.3f}] over {lift['reference']}"
                        for lift in versus)
    line = f"against the classic baselines, on the same rows ({gate['metric']}): {figures}"
    behind = min(versus, key=lambda lift: lift["mean"])
    if behind["mean"] < 0:
        line += (f". {behind['reference']} did better than {gate['method']} here (by {-behind['mean']:.3f}): consider "
                 "it, or gate on the baselines with --require-beat-baseline")
    return line


def checks_table(checks: list[dict[str, Any]]) -> str:
    rows = [
        [c["name"], "pass" if c["passed"] else "FAIL", "yes" if c["blocking"] else "no",
         ", ".join(f"{k}={format_figure(v)}" for k, v in c.get("metrics", {}).items() if not isinstance(v, (dict, list))),
         c.get("details", "")]
        for c in checks
    ]
    return markdown_table(["check", "result", "blocking", "figures", "details"], rows)


def curation_table(curation: dict[str, Any]) -> str:
    """Per class: the candidates generated, those kept, and why the others went."""
    rows = [[name, n, curation["kept"].get(name, 0), curation["near_copies"].get(name, 0),
             curation["unconfident"].get(name, 0)] for name, n in curation["candidates"].items()]
    table = markdown_table(["class", "candidates", "kept", "near-copies of a train image",
                            "not labelled as their class"], rows)
    return (f"{curation['factor']} candidates per image kept; {curation['kept_fraction']:.0%} kept. Kept: the candidates "
            "the checks' CNN (trained on the real train images only) labels as their class, that copy no train image, "
            f"picked one by one to add the most coverage of the class in that CNN's features.\n\n{table}")


def lift_table(report: dict[str, Any]) -> str:
    metrics = list(next(iter(report["scores"].values())).keys())
    rows = [[method, *[format_figure(scores[m]) for m in metrics]] for method, scores in report["scores"].items()]
    scores = markdown_table(["method", *metrics], rows)
    lift_rows = [
        [l["method"], l["reference"], l["metric"], f"{l['mean']:+.4f}", f"[{l['ci_low']:+.4f}, {l['ci_high']:+.4f}]"]
        for l in report["lifts"]
        if l["metric"] in ("balanced_accuracy", "minority_recall")
    ]
    confidence = f"{report.get('confidence', 0.95):.0%}"
    lifts = markdown_table(["method", "over", "metric", "lift", f"{confidence} CI"], lift_rows)
    return (f"{report['n_eval_rows']} real rows, seeds {report['seeds']}, classifiers {report['classifiers']}\n\n"
            f"{scores}\n\n{lifts}")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
