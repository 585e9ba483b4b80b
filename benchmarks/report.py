"""The benchmarks' figures as markdown: one summary table, then the detail behind each row."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from benchmarks.manifest_append import append_row_cells

Row = tuple[str, str, str, str, str]
PHOTO_SIDE_NOTE = "at most 320 pixels a side, JPEG"
SUMMARY_HEADER = ("Benchmark", "Measured", "Result", "Against", "Ratio", "Goal (issue #14)")
# (benchmark, words its "Measured" cell holds) -> the goal the row is judged against.
GOALS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("1. Ingest overhead", ("handler time minus",), "ratio at most 1.15x"),
    ("2. Throughput", ("(the default)",), "ratio at least 0.5"),
    ("3. Manifest append", ("concurrent appenders",), "0 / 0"),
    ("7. Load and faults", ("records lost",), "0 / 0"),
    ("7. Load and faults", ("loops lost",), "0 / 0; 0 / 0"),
    ("7. Load and faults", ("decision events",), "at least 1; all empty"),
    ("4. Cold start", ("(ingest), with bytecode",), "at most 300 ms"),
    ("4. Cold start", ("(review-complete), with bytecode",), "at most 300 ms"),
    ("8. Review comparison", ("earlier reviews",), "at most 1.1x"),
    ("8. Review comparison", ("with the comparison",), "at most 1.1x"),
    ("9. Load and faults, built-in review service", ("records lost",), "0 / 0"),
    ("9. Load and faults, built-in review service", ("tasks lost",), "0 / 0; 0 / 0; 0 / 0"),
    ("9. Load and faults, built-in review service", ("decision events",), "at least 1; all empty"),
    ("10. Quality report", ("reviews",), "ratio at most 10x"),
    ("11. Review queue", ("capacity units",), "ratio at most 1.2x"),
    ("12. Review API overhead", ("handler time",), "ratio at most 1.5x"),
    ("13. Reviewers at once", ("served twice",), "0 / 0"),
)


def _goal(row: Row) -> str:
    for benchmark, words, goal in GOALS:
        if row[0] == benchmark and all(word in row[1] for word in words):
            return goal
    return ""


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count / 1e3:.1f} kB"


def _repeated(figures: dict[str, Any]) -> bool:
    """Whether the ingest figures are the median of several runs (each run's ratio kept)."""
    return len(figures.get("ratios", [])) > 1


def _ratios(figures: dict[str, Any]) -> str:
    return ", ".join(f"{ratio}x" for ratio in figures["ratios"])


def _ingest(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    summary = [
        (
            "1. Ingest overhead",
            "per image: handler time minus the detector's",
            f"{figures['overhead_ms_per_image']} ms",
            f"bare AWS calls: {figures['baseline_ms_per_image']} ms",
            f"{figures['ratio']}x" + (f" (median of {_ratios(figures)})" if _repeated(figures) else ""),
        ),
        (
            "1. Ingest overhead",
            "what the overhead is made of, per image",
            ", ".join(f"{label} {ms} ms" for label, ms in figures["overhead_split_ms_per_image"].items()),
            "",
            "",
        ),
    ]
    detail = [
        (
            f"{len(figures['ratios'])} runs on one stack, ratios {_ratios(figures)}; the figures below "
            "are the median run's. "
            if _repeated(figures)
            else ""
        )
        + f"{figures['images']} images ({figures['sent_to_review']} sent to review) in batches of "
        f"{figures['batch_size']}, through the real handler against the local stack. Per image: handler "
        f"{figures['handler_ms_per_image']} ms, of which the detector {figures['detector_ms_per_image']} ms "
        f"(its DetectorLatency metric); the rest, {figures['overhead_ms_per_image']} ms, is the overhead. "
        f"The baseline makes only GetObject (image), PutObject (record), PutEvents and, for reviewed "
        f"images, StartHumanLoop, with the handler's own parameters and with the detector's call in its "
        f"place among them, its time left out as the handler's is: {figures['baseline_ms_per_image']} ms. "
        "(A call right after the detector's finds the stand-ins idle and takes about twice as long as "
        "one right after another call; fired back to back, the bare calls would be a baseline no "
        "handler could meet.)",
        "",
        "The overhead per image: "
        + ", ".join(f"{label} {ms} ms" for label, ms in figures["overhead_split_ms_per_image"].items())
        + ".",
        "",
        "Where the handler's time goes (per image, AWS calls timed at the HTTP round trip):",
        "",
        *_table(
            ("Part", "Calls per image", "ms per image"),
            (
                (label, part["calls_per_image"], part["ms_per_image"])
                for label, part in figures["breakdown"].items()
            ),
        ),
        "",
        f"Image checks and the detector copy (`prepare_image`) alone take "
        f"{figures['image_preparation_ms_per_image']} ms per image of the in-process part.",
        "",
        "What dominates: the AWS calls the baseline makes too, timed in the handler while its process "
        "is busy, then the handler's own code (Pydantic records and events, Powertools, botocore's "
        "request building, the image checks). A first delivery makes no other call: redeliveries are "
        "found by the record's conditional put. The local stand-ins keep connections alive, for the "
        "baseline as for the handler.",
    ]
    return summary, detail


def _throughput(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    levels = figures["by_ingest_workers"]
    summary: list[Row] = [
        (
            "2. Throughput",
            f"images per second, drop to decision, {level['ingest_workers']} ingest worker(s)"
            + (" (the default)" if level["ingest_workers"] == figures["default_ingest_workers"] else ""),
            f"{level['pipeline_images_per_second']}/s",
            f"detector alone: {level['detector_images_per_second']}/s",
            f"{level['ratio']}"
            + (
                f" (drops: {', '.join(str(ratio) for ratio in level['ratio_by_drop'])})"
                if level["ingest_workers"] == figures["default_ingest_workers"]
                and len(level["ratio_by_drop"]) > 1
                else ""
            ),
        )
        for level in levels
    ]
    if figures.get("profile"):
        shares = _grouped_shares(figures["profile"]["handling_breakdown"])
        summary.append(
            (
                "2. Throughput",
                "where one ingest worker's time goes (profiled)",
                ", ".join(f"{group} {share:.0%}" for group, share in shares.items()),
                "",
                "",
            )
        )
    default = next(
        (level for level in levels if level["ingest_workers"] == figures["default_ingest_workers"]),
        levels[-1],
    )
    detail = [
        f"{figures['images']} photos dropped at once into the input bucket, {figures['rounds']} times "
        "after a warm-up batch per worker, on a fresh local stack for each number of ingest workers; "
        "the clock stops at each drop's last decision event. The detector alone was timed on the same "
        "photos before, between and after the drops (in the benchmark's process, while the stack idles). "
        "Each drop's ratio is its rate over the mean of the detector's rates just before and just after "
        "it; the level's ratio is over all its drops and timings. "
        "A drop of this size keeps every worker's batches full; with a small one, the last partial "
        "batches waiting out the ingest queue's batching window weigh on the figure.",
        "",
        *_table(
            (
                "Ingest workers",
                "Drops (s)",
                "Decisions",
                "Images/s",
                "Detector alone/s",
                "Ratio",
                "Ratio per drop",
                "Detector's share of the wall time",
                "Cores busy",
            ),
            (
                (
                    level["ingest_workers"],
                    " / ".join(str(seconds) for seconds in level["pipeline_seconds"]),
                    ", ".join(f"{count} {name}" for name, count in sorted(level["decisions"].items())),
                    level["pipeline_images_per_second"],
                    level["detector_images_per_second"],
                    level["ratio"],
                    " / ".join(str(ratio) for ratio in level["ratio_by_drop"]),
                    f"{level['detector_share_of_pipeline_time']:.0%}",
                    level["cores_busy"],
                )
                for level in levels
            ),
        ),
        "",
        "CPU per image during the drops, by process (ms; user + system):",
        "",
        *_table(
            ("Process", *(f"{level['ingest_workers']} worker(s)" for level in levels)),
            (
                (role, *(level["cpu_ms_per_image"].get(role, 0.0) for level in levels))
                for role in default["cpu_ms_per_image"]
            ),
        ),
        "",
        _throughput_dominates(default),
    ]
    profile = figures.get("profile")
    if profile:
        wall = profile["pipeline_seconds"]
        handling = profile["handling_batches_seconds"]
        detail += [
            "",
            f"Profiled run (cProfile in the ingest worker process, after a warm-up batch): "
            f"{wall} s from drop to last decision, of which the worker spent {handling} s handling "
            f"batches; for the other {max(wall - handling, 0):.2f} s it was not handling one: photos "
            f"still being uploaded, SQS long polls, the ingest queue's batching window. Handling, by part:",
            "",
            *_table(
                ("Part", "Seconds", "Share of handling"),
                (
                    (label, part["seconds"], f"{part['share']:.0%}")
                    for label, part in profile["handling_breakdown"].items()
                ),
            ),
            "",
            "The worker's own CPU hot spots while handling (self time; waits on the servers left out):",
            "",
            *_table(
                ("Function", "Self seconds", "Calls"),
                (
                    (f"`{spot['function']}`", spot["self_seconds"], spot["calls"])
                    for spot in profile["cpu_hot_spots"]
                ),
            ),
        ]
    return summary, detail


def _throughput_dominates(level: dict[str, Any]) -> str:
    """What the cores were busy with at the default number of workers, from the CPU figures."""
    cpu, workers = level["cpu_ms_per_image"], level["ingest_workers"]
    total = sum(cpu.values())
    parts = ", ".join(f"{role} {ms} ms" for role, ms in sorted(cpu.items(), key=lambda item: -item[1]))
    return (
        f"What dominates: CPU. With {workers} ingest worker{'s' if workers != 1 else ''} the stack kept "
        f"{level['cores_busy']} of the 2 cores busy and spent {total:.1f} ms of CPU per image: {parts}. "
        f"The detector alone needs {level['detector_alone_cpu_ms_per_image']} ms per image (on two "
        "threads); everything else is the price of running AWS on the same two cores: moto answering "
        "each S3, SQS and EventBridge call in Python, botocore building and signing every call in "
        "the workers, and HTTP on both ends. moto runs in a process of its own, beside the detector "
        "rather than sharing its interpreter lock, and every server keeps connections alive."
    )


def _grouped_shares(breakdown: dict[str, dict[str, float]]) -> dict[str, float]:
    """The profile's parts in four groups: the detector, the AWS calls, image checks, the rest."""
    groups = {"detector": 0.0, "S3/EventBridge/A2I calls": 0.0, "image checks": 0.0, "other": 0.0}
    for label, part in breakdown.items():
        if label.startswith("detector"):
            group = "detector"
        elif any(service in label for service in ("S3 ", "EventBridge", "A2I")):
            group = "S3/EventBridge/A2I calls"
        elif "prepare_image" in label:
            group = "image checks"
        else:
            group = "other"
        groups[group] += part["share"]
    return groups


def _manifest(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    appends, concurrent = figures["appends"], figures["concurrent"]
    at = " / ".join(f"{row['answers_received']:,}" for row in appends)
    per_answer = " / ".join(f"{row['per_answer_ms']}" for row in appends)
    summary = [
        (
            "3. Manifest append",
            f"ms per appended answer at {at} answers received",
            f"{per_answer} ms",
            "",
            "",
        ),
        (
            "3. Manifest append",
            f"{concurrent['writers']} concurrent appenders: answers lost / duplicated",
            f"{concurrent['lost']} / {concurrent['duplicated']} of {concurrent['answers']}",
            "",
            "",
        ),
    ]
    detail = [
        "The real RollingManifest against a moto S3 server, rotation at the configured bound; each "
        "append is one batch of the review queue's size, written with one conditional "
        "read-modify-write.",
        "",
        *_table(
            ("Answers received", "Batch", "Median ms", "Max ms", "ms per answer", "Sealed", "Open lines"),
            (append_row_cells(row) for row in appends),
        ),
        "",
        f"{concurrent['writers']} appenders at once, {concurrent['answers']} distinct answers, rotation "
        f"lowered so manifests are sealed during the contention ({concurrent['manifests_sealed']} sealed); "
        f"every manifest read back: {concurrent['lost']} lost, {concurrent['duplicated']} duplicated, "
        f"{concurrent['unexpected']} unexpected; {concurrent['batches_redelivered']} batches gave up "
        f"(ManifestBusy) and were appended again as SQS would redeliver them; "
        f"{concurrent['answers_per_second']} answers/s in {concurrent['seconds']} s.",
    ]
    return summary, detail


def _load_records_row(title: str, figures: dict[str, Any]) -> Row:
    records = figures["records"]
    return (
        title,
        f"{figures['images_dropped']:,} drops: records lost / duplicated",
        f"{records['images_without_a_record']} / {records['images_with_several']} "
        f"({records['written']:,} written)",
        "",
        "",
    )


def _load_events_row(title: str, figures: dict[str, Any]) -> Row:
    events = figures["decision_events_per_image"]
    return (
        title,
        "decision events per image (min / mean / max); dead-letter queues",
        f"{events['min']} / {events['mean']} / {events['max']}; "
        + ", ".join(f"{name} {count}" for name, count in figures["dead_letter_queues"].items()),
        "",
        "",
    )


def _load(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    records, loops, answers = figures["records"], figures["loops"], figures["answers"]
    events, faults = figures["decision_events_per_image"], figures["faults"]
    summary: list[Row] = [
        _load_records_row("7. Load and faults", figures),
        (
            "7. Load and faults",
            "loops lost / duplicated; manifest lines lost / duplicated",
            f"{loops['lost']} / {loops['images_with_several']} ({loops['started']} started); "
            f"{answers['lost']} / {answers['duplicated']} ({answers['manifest_lines']} lines)",
            "",
            "",
        ),
        _load_events_row("7. Load and faults", figures),
    ]
    detail = [
        f"{figures['images_dropped']:,} small photos (scikit-image's samples downscaled to "
        f"{PHOTO_SIDE_NOTE}) dropped at once into the local stack's input bucket; decided and "
        f"reviewed in {figures['seconds']} s ({figures['images_per_second']} images/s). Faults while it "
        f"ran: {faults['throttled_fraction']:.0%} of the detector's invocations throttled "
        f"({faults['detector_calls_throttled']} refused; botocore retries throttling, SQS the rest), one "
        f"ingest worker killed (SIGKILL) when a quarter were decided "
        f"(pid {faults.get('killed_worker_pid', 'none')}) and replaced, the A2I stand-in restarted at half "
        f"({'done' if faults.get('a2i_restarted') else 'not reached'}), {figures['reviewers']} reviewers "
        "answering open loops at once, each picking at random."
        + (
            " The run timed out before every image was decided and reviewed."
            if faults.get("timed_out")
            else ""
        ),
        "",
        f"Decisions: {', '.join(f'{count} {name}' for name, count in figures['decisions'].items())}. "
        f"Records: {records['written']} written, {records['images_without_a_record']} images without one, "
        f"{records['images_with_several']} with several. Loops: {loops['started']} started for "
        f"{loops['reviewed_images']} reviewed images, {loops['lost']} lost, {loops['images_with_several']} "
        f"images with several. Answers: {answers['submitted']} submitted ({answers['reviewer_conflicts']} "
        "reviewer conflicts on a loop another answered first, "
        f"{answers['reviewer_calls_while_a2i_was_down']} calls while A2I restarted), "
        f"{answers['review_completed_events']} Review Completed events, "
        f"{answers['manifest_lines']} manifest lines for the reviewed images, {answers['lost']} lost, "
        f"{answers['duplicated']} duplicated. Decision events per image: min {events['min']}, mean "
        f"{events['mean']}, max {events['max']}; {events['images_announced_more_than_once']} images "
        "announced more than once (redeliveries after the kill and the throttling publish again: events "
        "are at least once). Dead-letter queues: "
        + ", ".join(f"{name} {count}" for name, count in figures["dead_letter_queues"].items())
        + ".",
        "",
        "What dominates the run time: the review round trip (reviewers polling for open loops, the "
        "review queue's 5 s batching window) and the redeliveries the faults cause (a killed worker's "
        "batch and a message whose detector calls stayed throttled come back after the local 20 s "
        "visibility timeout).",
    ]
    return summary, detail


def _load_builtin(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    records, loops, answers = figures["records"], figures["loops"], figures["answers"]
    events, faults, outputs = figures["decision_events_per_image"], figures["faults"], figures["outputs"]
    title = "9. Load and faults, built-in review service"
    summary: list[Row] = [
        _load_records_row(title, figures),
        (
            title,
            "tasks lost / duplicated; output.json lost / duplicated; manifest lines lost / duplicated",
            f"{loops['lost']} / {loops['images_with_several']} ({loops['started']} tasks, "
            f"{loops['completed']} completed); {outputs['lost']} / {outputs['duplicated']}; "
            f"{answers['lost']} / {answers['duplicated']} ({answers['manifest_lines']} lines)",
            "",
            "",
        ),
        _load_events_row(title, figures),
    ]
    detail = [
        f"The same burst with the built-in review service: {figures['images_dropped']:,} photos decided and "
        f"reviewed in {figures['seconds']} s ({figures['images_per_second']} images/s). Faults: "
        f"{faults['throttled_fraction']:.0%} of the detector's invocations throttled "
        f"({faults['detector_calls_throttled']} refused), one ingest worker killed when a quarter were "
        f"decided (pid {faults.get('killed_worker_pid', 'none')}), {faults['outbox_failure_fraction']:.0%} "
        f"of the outbox's stream batches failed on purpose ({faults['outbox_failures_injected']}: half "
        "before its work, half after it, the checkpoint lost), and the lifecycle sweep ran every few "
        f"seconds with short leases. {figures['reviewers']} reviewers signed in with the local stand-in "
        "listed, claimed and answered tasks through the review API at once, walking away from "
        f"{answers['claims_abandoned']} claims for the sweep to hand back."
        + (
            " The run timed out before every image was decided and reviewed."
            if faults.get("timed_out")
            else ""
        ),
        "",
        f"Records: {records['written']} written, {records['images_without_a_record']} images without one, "
        f"{records['images_with_several']} with several. Tasks: {loops['started']} for "
        f"{loops['reviewed_images']} reviewed images, {loops['completed']} completed, {loops['lost']} lost, "
        f"{loops['images_with_several']} images with several. output.json: {outputs['written']} written, "
        f"{outputs['lost']} lost, {outputs['duplicated']} tasks with several. "
        f"Answers: {answers['submitted']} submitted ({answers['reviewer_conflicts']} conflicts on a task "
        "another held or answered first, "
        f"{answers['reviewer_calls_unanswered']} calls without an answer), "
        f"{answers['review_completed_events']} Review Completed events, {answers['manifest_lines']} manifest "
        f"lines for the reviewed images, {answers['lost']} lost, {answers['duplicated']} duplicated. "
        f"Decision events per image: min {events['min']}, mean {events['mean']}, max {events['max']}. "
        "Dead-letter queues: "
        + ", ".join(f"{name} {count}" for name, count in figures["dead_letter_queues"].items())
        + ".",
    ]
    return summary, detail


def _cold_start(rows: list[dict[str, Any]]) -> tuple[list[Row], list[str]]:
    summary: list[Row] = []
    for row in rows:
        compiled = (
            f"{row['import_cpu_ms_with_bytecode_median']} ms / {row['import_ms_with_bytecode_median']} ms"
        )
        summary.append(
            (
                "4. Cold start",
                f"import `{row['handler_module']}` ({row['function']}), with bytecode: CPU / wall",
                compiled,
                f"without bytecode: {row['import_cpu_ms_median']} ms / {row['import_ms_median']} ms",
                "",
            )
        )
        if row.get("first_use_cpu_ms_with_bytecode_median") is not None:
            summary.append(
                (
                    "4. Cold start",
                    f"import + first-use setup ({row['function']}), CPU",
                    f"{row['first_use_cpu_ms_with_bytecode_median']} ms",
                    "",
                    "",
                )
            )
        summary.append(
            (
                "4. Bundle size",
                f"{row['function']}, unzipped / zipped",
                f"{_size(row['bundle_bytes'])} / {_size(row['bundle_zipped_bytes'])}",
                "",
                "",
            )
        )
    detail = [
        "Bundle sizes are the real deployment packages (arm64 wheels for Python 3.14, boto3 left to the "
        "runtime). Import times are measured on the same bundle built from this machine's wheels "
        "(x86_64, Python 3.11): the arm64 one cannot be imported here. Median of fresh interpreters "
        "with the bundle first on sys.path and no bytecode written, as on Lambda's read-only code "
        "folder: the bundle ships no `.pyc`, so every cold start compiles its modules. 'With bytecode' "
        "is the same bundle precompiled, which shows what that compiling costs (shipping `.pyc` would "
        "need bytecode of Lambda's exact Python, 3.14). CPU time is the interpreter's own (user + "
        "system); wall time also holds the waits for a CPU on a shared machine. 'First use' adds what "
        "the handler builds on its first message (the tracer with the X-Ray SDK, boto3 and its "
        "clients), which the import leaves out.",
        "",
        *_table(
            (
                "Function",
                "Import ms (CPU / wall)",
                "With bytecode ms (CPU / wall)",
                "Import + first use, with bytecode, CPU ms",
                "Slowest packages (ms, own import time)",
            ),
            (
                (
                    row["function"],
                    f"{row['import_cpu_ms_median']} / {row['import_ms_median']}",
                    f"{row['import_cpu_ms_with_bytecode_median']} / {row['import_ms_with_bytecode_median']}",
                    row.get("first_use_cpu_ms_with_bytecode_median") or "",
                    ", ".join(f"{name} {ms}" for name, ms in row["slowest_imports"].items()),
                )
                for row in rows
            ),
        ),
        "",
        "What dominates: Pydantic (the records', events' and configuration's models are built at "
        "import), Powertools (its batch utility imports asyncio and the event data classes) and "
        "botocore's exceptions; Pillow's import is small. The X-Ray SDK and boto3 are imported with "
        "the first message (the tracer under SnapStart during init), which 'first use' counts.",
    ]
    return summary, detail


def _synthesis(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    summary = [
        (
            "5. Synthesis",
            "`make synth` (CDK app, local bundling, cdk-nag, cfn-lint)",
            f"{figures['make_synth_seconds']} s",
            "",
            "",
        )
    ]
    detail = [
        f"`make synth`: {figures['make_synth_seconds']} s, of which cfn-lint on the "
        f"{figures['templates']} template(s) {figures['cfn_lint_seconds']} s and the CDK app (with "
        f"bundling from the dependency cache) {figures['cdk_synth_seconds']} s.",
    ]
    return summary, detail


def _editor_step(figures: dict[str, Any]) -> str:
    return f"{figures['median_ms']} / {figures['p95_ms']} ms"


def _review_editor(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    title = "6. Review editor"
    if "skipped" in figures:
        return [(title, "frame time with 200 boxes", "not measured", figures["skipped"], "")], []
    summary: list[Row] = []
    for step, what in (("drag", "a drag step"), ("nudge", "an arrow-key nudge")):
        current = figures["current"][step]
        before = figures.get("before_15", {}).get(step)
        against = f"one frame: {figures['frame_ms']} ms" + (
            f"; before #15: {_editor_step(before)}; {before['main_thread_ms']} ms" if before else ""
        )
        summary.append(
            (
                title,
                f"{what} among {figures['boxes']} boxes: script, style and layout, median / p95; "
                "main-thread time with paint, mean",
                f"{_editor_step(current)}; {current['main_thread_ms']} ms",
                against,
                f"{current['p95_ms'] / figures['frame_ms']:.2f} of a frame (p95)",
            )
        )
    detail = [
        f"The review page in headless Chromium with a task of {figures['boxes']} boxes on a 1800x1200 "
        f"photo; {figures['steps']} real mouse moves of a dragged box and {figures['steps']} real "
        "arrow-key nudges of the selected one. Each step is timed in the page from the input event's "
        "first listener to after its last, plus a forced style and layout (the paint that follows is "
        "not in it); the main-thread column is Chromium's TaskDuration over all steps divided by their "
        "number, which includes the paint and the input's dispatch. `before #15` is the editor of commit "
        f"{figures.get('before_15', {}).get('commit', '(not available)')} (the whole box list and SVG "
        "rebuilt on each change) loaded into the same page. Box list rebuilt on a change: "
        + ", ".join(
            f"{editor} {'yes' if figures[editor]['box_list_rebuilt'] else 'no'}"
            for editor in ("current", "before_15")
            if editor in figures
        )
        + ".",
        "",
        *_table(
            ("Editor", "Step", "Median ms", "p95 ms", "Max ms", "Main thread ms (mean)", "Boxes moved"),
            (
                (
                    editor,
                    step,
                    row["median_ms"],
                    row["p95_ms"],
                    row["max_ms"],
                    row["main_thread_ms"],
                    row["boxes_moved"],
                )
                for editor in ("current", "before_15")
                if editor in figures
                for step, row in figures[editor].items()
                if isinstance(row, dict)
            ),
        ),
    ]
    return summary, detail


def _review_comparison(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    found, cost = figures["history"], figures["overhead"]
    per_history, per_answer = found["ms_per_answer"], cost["ms_per_answer"]
    fewest, most = min(found["earlier_reviews"]), max(found["earlier_reviews"])
    smallest, largest = f"{fewest:,}", f"{most:,}"
    summary: list[Row] = [
        (
            "8. Review comparison",
            f"review-complete ms per answer with {largest} earlier reviews",
            f"{per_history[str(most)]} ms",
            f"{smallest} earlier reviews: {per_history[str(fewest)]} ms",
            f"{found['ratio']}x",
        ),
        (
            "8. Review comparison",
            "review-complete ms per answer with the comparison (and its batch's review records)",
            f"{per_answer['with']} ms",
            f"without: {per_answer['without']} ms",
            f"{cost['ratio']}x",
        ),
        (
            "8. Review comparison",
            "the same, without the review records' PutObject",
            f"{per_answer['without_record_write']} ms",
            f"without: {per_answer['without']} ms",
            f"{cost['ratio_without_record_write']}x",
        ),
        (
            "8. Review comparison",
            "CPU ms per answer of the function's process with the comparison",
            f"{cost['cpu_ms_per_answer']['with']} ms",
            f"without: {cost['cpu_ms_per_answer']['without']} ms",
            f"{cost['cpu_ratio']}x",
        ),
    ]
    detail = [
        f"The review-complete handler on batches of {figures['batch_size']} answers (six boxes shown, the "
        "reviewer keeps three, moves one, relabels one, deletes one, adds one) against the local stack's "
        f"AWS stand-in in its own process; {figures['rounds']} batches per figure, alternating, medians. "
        f"History: the training bucket holds {smallest} or {largest} earlier review records; the "
        "comparison reads only the answer's own output.json. Overhead: without the comparison is the "
        "function before it (no comparison, no review records, no per-label metrics); with it, the "
        "batch's review records are one JSON Lines object, one more PutObject per batch, written "
        "beside the manifest's read-modify-write; the last row leaves that PutObject out, which shows "
        "what comparing, announcing and counting cost apart from storing the records.",
        "",
        "What dominates: the batch's answers themselves (each one's output.json read, its image's "
        "index read and write, the manifest read and write, one PutEvents); the comparison is a few "
        "IoUs per box, its per-label metrics a few EMF lines, and the records one PutObject a batch.",
    ]
    return summary, detail


def _quality_report(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    small, large = figures["small"], figures["large"]
    summary: list[Row] = [
        (
            "10. Quality report",
            f"CPU seconds for the report from {large['reviews']:,} reviews",
            f"{large['cpu_seconds']} s",
            f"{small['reviews']:,} reviews: {small['cpu_seconds']} s",
            f"{figures['ratio']}x (for {figures['size_ratio']}x the reviews)",
        )
    ]
    detail = [
        "What the daily function and `hitl quality report` do with the records, timed from JSON bytes in "
        "memory to the HTML page: parse and join prediction and review records, estimate the errors let "
        "through, compare the windows per class, replay the policy at twenty thresholds (one bisection "
        "per image), bucket the series, draw four figures. Synthetic traffic (`hitl quality synthetic`), "
        f"{small['records']:,} and {large['records']:,} prediction records; the fastest CPU time of runs "
        f"{small['runs']} and {large['runs']} s (wall {small['seconds']} and {large['seconds']} s, "
        f"ratio {figures['wall_ratio']}x: wall time also counts the shared machine's other load), the "
        "two sizes run alternately. "
        "Reading the records from S3 is not timed (the function reads them on 16 threads).",
        "",
        "What dominates: parsing and validating the prediction records (pydantic) and the advisor's "
        "replay, both linear in the records; drawing the figures is a constant few seconds.",
    ]
    return summary, detail


def _review_queue(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    small, large = figures["sizes"][0], figures["sizes"][-1]
    summary: list[Row] = [
        (
            "11. Review queue",
            f"POST tasks/next: DynamoDB capacity units a call with {large['open_tasks']:,} open tasks",
            f"{large['capacity_units']} ({large['dynamodb_calls']} calls)",
            f"{small['open_tasks']:,} open tasks: {small['capacity_units']} "
            f"({small['dynamodb_calls']} calls)",
            f"{figures['ratio']}x",
        )
    ]
    detail = [
        "The task store's `next` against moto's DynamoDB with the deployed table layout; "
        f"{large['next_calls']} reviewers in turn, each claiming a task and counting it in three budget "
        "windows (a transaction). "
        "Capacity units are worked out from the bytes each call reads and writes (4 KB read units, half for "
        "the index query; 1 KB write units, doubled in a transaction): medians per call, "
        f"{small['read_units']} / {large['read_units']} read and {small['write_units']} / "
        f"{large['write_units']} write units. The index's sort key orders by priority with aging, so the "
        "first page of the index holds the task to serve whatever the queue's length.",
        "",
        f"moto's wall time per call ({small['moto_ms']} / {large['moto_ms']} ms, {figures['moto_ratio']}x) "
        "grows with the table because moto answers an index query by looking at every item; DynamoDB "
        "reads only the page asked for.",
    ]
    return summary, detail


def _review_api_overhead(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    calls = ", ".join(
        f"{count} {operation}" for operation, count in figures["dynamodb_calls_per_next_and_answer"].items()
    )
    summary: list[Row] = [
        (
            "12. Review API overhead",
            "POST tasks/next and the answer: handler time per request",
            f"{figures['handler_ms_per_request']} ms",
            f"bare DynamoDB calls: {figures['bare_ms_per_request']} ms",
            f"{figures['ratio']}x (median of {_ratios(figures)})",
        )
    ]
    detail = [
        f"The real review API handler in this process, fed HTTP API events, against a moto server over "
        f"loopback HTTP ({figures['open_tasks']} open tasks): {figures['requests']} requests a round, "
        f"reviewers in turn asking POST tasks/next and answering the task served. Each request's "
        f"DynamoDB calls ({calls} per task served and answered) are recorded with their parameters and "
        "made again bare, right after it, on a twin table holding the same tasks. Per request: "
        f"tasks/next {figures['next_handler_ms']} ms against {figures['next_bare_ms']} ms bare "
        f"({figures['next_ratio']}x), the answer {figures['answer_handler_ms']} ms against "
        f"{figures['answer_bare_ms']} ms. The figures are the median round's.",
    ]
    return summary, detail


def _review_reviewers(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    summary: list[Row] = [
        (
            "13. Reviewers at once",
            f"{figures['reviewers']} reviewers for {figures['seconds']} s: tasks served twice / "
            "204s while a task was free",
            f"{figures['served_twice']} / {figures['skipped_while_free']}",
            f"{figures['tasks_served']:,} tasks served and answered, "
            f"{figures['failed_requests']} failed requests",
            f"{figures['requests_per_second']} requests/s",
        ),
        (
            "13. Reviewers at once",
            "POST tasks/next latency, p50 / p95",
            f"{figures['next_p50_ms']} / {figures['next_p95_ms']} ms",
            f"answer: {figures['answer_p50_ms']} / {figures['answer_p95_ms']} ms",
            "",
        ),
    ]
    detail = [
        "The review API as `hitl local up` serves it: the real handler in four forked execution "
        "environments behind the HTTP API stand-in, a moto server as DynamoDB. Each reviewer asks for "
        "the next task and answers it, again and again; a feeder keeps at least "
        f"{figures['unserved_kept']} tasks unserved, refilling as soon as fewer remain "
        f"({figures['tasks_created']:,} created): {figures['next_requests']:,} next requests, "
        f"{figures['empty_answers']:,} answered 204. A 204 counts as a skip when some task was free the "
        "whole time: created before the request began and served to nobody by a request begun before "
        "it ended. Latency and requests per second are the laptop's (two cores shared by the clients, "
        "the four environments and moto), not a deployment's.",
    ]
    return summary, detail


SECTIONS: dict[str, tuple[str, Callable[[Any], tuple[list[Row], list[str]]]]] = {
    "ingest": ("1. Ingest overhead", _ingest),
    "throughput": ("2. End-to-end throughput", _throughput),
    "manifest": ("3. Manifest append", _manifest),
    "cold_start": ("4. Cold start and size", _cold_start),
    "synthesis": ("5. Synthesis", _synthesis),
    "review_editor": ("6. Review editor", _review_editor),
    "load": ("7. Load and faults", _load),
    "review_comparison": ("8. Review comparison", _review_comparison),
    "load_builtin": ("9. Load and faults, built-in review service", _load_builtin),
    "quality_report": ("10. Quality report", _quality_report),
    "review_queue": ("11. Review queue", _review_queue),
    "review_api_overhead": ("12. Review API overhead", _review_api_overhead),
    "review_reviewers": ("13. Reviewers at once", _review_reviewers),
}


def markdown(document: dict[str, Any]) -> str:
    """The report for `python -m benchmarks`'s document (environment, seconds, results)."""
    env = document["environment"]
    quick = " (--quick: small sizes, not for comparison)" if document.get("quick") else ""
    lines = [
        "# Benchmark results",
        "",
        f"`make bench` on {env['date']}, commit {env['commit']}{quick}: Python {env['python']}, "
        f"{env['machine']}, {env['cpus']} CPUs, load average {env['load_average_at_start']} at start. "
        "Each ratio is taken within one run. The machine may be shared (other test runs): a load "
        "average well above the CPU count swells every wall time, so compare ratios within a run, "
        "and cold starts by CPU time.",
        "",
    ]
    summary: list[Row] = []
    details: list[str] = []
    for name, (title, section) in SECTIONS.items():
        if name not in document["results"]:
            continue
        rows, detail = section(document["results"][name])
        summary += rows
        details += ["", f"## {title}", "", *detail]
    lines += _table(SUMMARY_HEADER, [(*row, _goal(row)) for row in summary])
    lines += details
    took = ", ".join(f"{name} {seconds} s" for name, seconds in document["seconds"].items())
    lines += [
        "",
        "## Rerun",
        "",
        f"`make bench` runs all thirteen and rewrites this file and `benchmarks/results.json` ({took}). "
        "`.venv/bin/python -m benchmarks --only NAME` runs one (ingest, throughput, manifest, "
        "cold_start, synthesis, review_editor, load, review_comparison, load_builtin, quality_report, "
        "review_queue, review_api_overhead, review_reviewers); "
        "`--quick` uses "
        "small sizes (a burst of 40 for load and load_builtin). Partial runs print their figures and "
        "write nothing unless given `--output FOLDER`.",
    ]
    return "\n".join(lines) + "\n"
