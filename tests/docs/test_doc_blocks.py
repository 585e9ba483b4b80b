"""The convention's reader: markers, languages and shown output are read as docs/contributing.md says."""

from __future__ import annotations

from pathlib import Path

from docs.doc_blocks import fenced_blocks, marker_problem

PAGE = """# A page

<!-- run -->
```bash
hitl --help
```

<!-- output -->
```text
Usage: hitl
```

```bash
cdk deploy
```

<!-- not-run: needs an AWS account -->
```bash
cdk deploy
```

<!-- not-run -->
```python
print(1)
```

<!-- run -->
```js
alert(1)
```

1. In a list:

    <!-- run: stack -->
    ```bash
    aws s3 ls
    ```

```
plain
```

```json
{"shown": true}
```
"""


def test_reads_markers_languages_and_output(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    blocks = fenced_blocks(page, root=tmp_path)
    assert [(b.line, b.language, b.marker, b.detail) for b in blocks] == [
        (4, "bash", "run", ""),
        (9, "text", "output", ""),
        (13, "bash", None, ""),
        (18, "bash", "not-run", "needs an AWS account"),
        (23, "python", "not-run", ""),
        (28, "js", "run", ""),
        (35, "bash", "run", "stack"),
        (39, "", None, ""),
        (43, "json", None, ""),
    ]
    assert blocks[0].expected_output == ["Usage: hitl"]
    assert blocks[6].text == "aws s3 ls\n" and blocks[6].needs_stack


def test_names_every_block_that_breaks_the_convention(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    problems = {b.line: marker_problem(b) for b in fenced_blocks(page, root=tmp_path)}
    flagged = {line for line, problem in problems.items() if problem}
    assert flagged == {13, 23, 28, 39}
    assert "needs its reason" in problems[23]
    assert "give the block a language" in problems[39]
