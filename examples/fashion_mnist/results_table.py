#!/usr/bin/env python3
"""The README's table of what each policy achieved, made from the reports `kmrc run` wrote.

    results_table.py README.md REPORT.json...          rewrite the table in README.md
    results_table.py --check README.md REPORT.json...  exit 1 if README.md's table differs

The table lives between the README's `<!-- results:begin -->` and `<!-- results:end -->`
lines. Every figure comes from a report: the chosen trial's `size` and `acc` meters (and
the baseline's `acc`), the saved model's bits per stored parameter, the trial count and the
run's wall time. Nothing is typed in, so `--check` in the test suite catches a table that
was edited by hand or left behind by new reports.
"""
import argparse
import json
import os
import sys

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"


def fail(message):
    sys.exit(f"results_table: {message}")


def meter(values, name, report_path):
    if name not in values:
        fail(f"{report_path}: the report has no meter '{name}'")
    return values[name]


def row(report_path):
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    name = os.path.splitext(os.path.basename(report["script"]))[0]
    chosen = report.get("chosen")
    trials = report["trials"]
    run_time = f"{report['seconds']:.0f} s" if "seconds" in report else "-"
    if chosen is None:
        return f"| `{name}` | {report['policy']} | no feasible configuration | - | - | - | {len(trials)} | {run_time} |"
    picked = trials[chosen]
    size = meter(picked["meters"], "size", report_path)
    accuracy = meter(picked["meters"], "acc", report_path)
    base_accuracy = meter(report["baseline"], "acc", report_path)
    saved = report.get("saved") or []
    bits = f"{saved[0]['bits_per_parameter']:.2f}" if saved else "-"
    knobs = ", ".join(f"{knob}={format_knob(value)}" for knob, value in picked["knobs"].items())
    return (f"| `{name}` | {report['policy']} | {size / 1024:.2f} KiB | {100 * accuracy:.2f}% "
            f"({100 * (accuracy - base_accuracy):+.2f}) | {bits} | {knobs} | {len(trials)} | {run_time} |")


def format_knob(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}"


def table(report_paths):
    lines = [
        "| policy | search | size | accuracy (vs baseline) | bits per parameter | chosen knobs | trials | run time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [row(path) for path in report_paths]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of rewriting")
    parser.add_argument("readme")
    parser.add_argument("reports", nargs="+")
    args = parser.parse_args()

    with open(args.readme, encoding="utf-8") as f:
        text = f.read()
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        fail(f"{args.readme} needs one '{BEGIN}' line followed by one '{END}' line")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    updated = f"{head}{BEGIN}\n{table(args.reports)}\n{END}{tail}"
    if args.check:
        if updated != text:
            fail(f"the table in {args.readme} does not match the reports; rerun "
                 "examples/fashion_mnist/run_policies.sh")
        return
    if updated != text:
        with open(args.readme + ".tmp", "w", encoding="utf-8") as f:
            f.write(updated)
        os.replace(args.readme + ".tmp", args.readme)


if __name__ == "__main__":
    main()
