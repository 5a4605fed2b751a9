"""Compare cross-validation reports of different models trial by trial, as a Markdown table.

Each argument is a ``report.json`` written by ``mclnn cv-train``; only trials finished in
every report are compared, and each such trial must have tested the same clips (by file
name) in every report, else the comparison is refused.

    python benchmarks/compare_reports.py mclnn-data/esc10/ESC10_folds_5_weights/report.json \\
        mclnn-data/esc10-dcase2018/ESC10_DCASE2018_folds_5_cnn_weights/report.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_SCORES = (("mean_probability_accuracy", "mean-prob acc"), ("majority_accuracy", "majority acc"),
           ("map_at_3", "MAP@3"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="report.json files")
    arguments = parser.parse_args()
    reports = [json.loads(path.read_text()) for path in arguments.reports]
    trials = sorted(set.intersection(*(set(report["trials_finished"]) for report in reports)))
    if not trials:
        sys.exit("error: no trial is finished in every report")
    tested = {}
    for path, report in zip(arguments.reports, reports):
        for trial in report["trials_finished"]:
            if trial in trials:
                trial_report = json.loads((path.parent / f"trial_{trial:02d}" / "report.json").read_text())
                names = sorted(clip["filename"] for clip in trial_report["clips"])
                if tested.setdefault(trial, names) != names:
                    sys.exit(f"error: trial {trial} of {path} tested other clips than the first report's")
    labels = [f"{report['dataset']} {report['model']}" for report in reports]
    print("| trial | " + " | ".join(f"{label}: {name}" for label in labels for _, name in _SCORES) + " |")
    print("|" + "---|" * (1 + len(labels) * len(_SCORES)))
    for trial in trials:
        rows = [next(entry for entry in report["trials"] if entry["trial"] == trial) for report in reports]
        print(f"| {trial} | " + " | ".join(f"{row['scores'][key]:.4f}" for row in rows for key, _ in _SCORES) + " |")
    if trials == sorted(reports[0]["trials_finished"]) and all(
            sorted(report["trials_finished"]) == trials for report in reports):
        print("| pooled | " + " | ".join(f"{report['pooled'][key]:.4f}" for report in reports for key, _ in _SCORES)
              + " |")


if __name__ == "__main__":
    main()
