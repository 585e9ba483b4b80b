from datetime import UTC, datetime, timedelta

from hitl_core.review_tasks import ReviewTask, TaskStatus
from hitl_core.review_team_summary import reviewer_rows, rows_csv

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CAT = {"label": "cat", "left": 10, "top": 10, "width": 100, "height": 100}
DOG = {"label": "dog", "left": 300, "top": 300, "width": 50, "height": 50}


def human(sub: str, minutes_ago: float, seconds: float, boxes: list, modified: bool | None = None) -> dict:
    result = {"boundingBoxes": boxes, "inputImageProperties": {"width": 640, "height": 480}}
    if modified is not None:
        result["initialValueModified"] = modified
    return {
        "workerId": sub,
        "submissionTime": (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "timeSpentInSeconds": seconds,
        "answerContent": {"annotatedResult": result},
    }


def task(name: str, *answers: dict) -> ReviewTask:
    return ReviewTask(name, "{}", "2026-12-07T08:00:00.000Z", TaskStatus.COMPLETED, answers=answers)


def test_rows_count_the_window_per_reviewer() -> None:
    tasks = [
        task("a", human("ana", 10, 30, [CAT], True), human("ben", 20, 50, [CAT], False)),
        task("b", human("ana", 30, 10, [CAT, DOG], False), human("ben", 40, 20, [DOG], True)),
        task("c", human("ana", 60 * 5, 99, [CAT])),  # before the window
    ]
    names = {"ana": "ana@example.com", "dee": "dee"}
    rows = reviewer_rows(tasks, {"cy": (2, 1.5)}, NOW - timedelta(hours=2), NOW, names)
    assert rows == [
        {
            "reviewer": "ana",
            "tasks": 2,
            "tasksPerHour": 1.0,
            "medianSeconds": 20.0,
            "changedShare": 0.5,
            "goldScore": None,
            "goldTasks": 0,
            "agreement": 0.8334,  # (1.0 + 0.6667) / 2
            "name": "ana@example.com",
        },
        {
            "reviewer": "ben",
            "tasks": 2,
            "tasksPerHour": 1.0,
            "medianSeconds": 35.0,
            "changedShare": 0.5,
            "goldScore": None,
            "goldTasks": 0,
            "agreement": 0.8334,  # (1.0 + 0.6667) / 2
            "name": None,
        },
        {
            "reviewer": "cy",
            "tasks": 0,
            "tasksPerHour": 0.0,
            "medianSeconds": None,
            "changedShare": None,
            "goldScore": 0.75,
            "goldTasks": 2,
            "agreement": None,
            "name": None,
        },
    ]


def test_csv_has_a_header_and_empty_cells_for_absent_figures() -> None:
    rows = reviewer_rows(
        [], {"cy": (2, 1.5), "di": (1, 1.0)}, NOW - timedelta(hours=1), NOW, {"di": "di@x.org"}
    )
    assert rows_csv(rows).splitlines() == [
        "reviewer,tasks,tasksPerHour,medianSeconds,changedShare,goldScore,goldTasks,agreement,name",
        "cy,0,0.0,,,0.75,2,,",
        "di,0,0.0,,,1.0,1,,di@x.org",
    ]
