"""Every `aws` command the docs show names a real operation and real options (botocore's models).

The runbooks' commands need an account and are never run; this keeps their names from drifting.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import botocore.session
import pytest
from botocore import xform_name

from docs.doc_blocks import all_blocks

GLOBAL_OPTIONS = frozenset(
    {"query", "output", "region", "profile", "endpoint-url", "no-paginate", "max-items", "page-size"}
    | {"starting-token", "cli-input-json", "debug", "no-cli-pager", "cli-binary-format", "no-sign-request"}
    | {"no-verify-ssl", "ca-bundle", "cli-read-timeout", "cli-connect-timeout", "color"}
)
# The CLI's own commands, which are no API operation, with the options the docs may use.
CUSTOM_COMMANDS = {
    ("s3", "cp"): {"recursive"},
    ("s3", "ls"): {"recursive"},
    ("logs", "tail"): {"since", "filter-pattern", "follow", "format"},  # AWS CLI v2
}
_ENDS = frozenset({"|", "||", "&&", ";"})


def aws_commands(text: str) -> Iterator[tuple[str, str, list[str]]]:
    """(service, command, option names) of each `aws` call in a shell block, nested ones included."""
    for line in text.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for start, token in enumerate(tokens):
            if (token == "aws" or token.endswith("/aws")) and start + 2 < len(tokens):
                yield tokens[start + 1], tokens[start + 2], _options(tokens[start + 3 :])


def _options(tokens: list[str]) -> list[str]:
    depth, options = 0, []
    for token in tokens:
        if set(token) == {"("}:
            depth += len(token)
        elif set(token) == {")"}:
            depth -= len(token)
            if depth < 0:
                break
        elif token in _ENDS and depth == 0:
            break
        elif token.startswith("--") and depth == 0:
            options.append(token[2:].split("=")[0])
    return options


COMMANDS = [
    (block.id, *command)
    for block in all_blocks()
    if block.language == "bash"
    for command in aws_commands(block.text)
]


def test_the_docs_show_aws_commands() -> None:
    assert {(service, command) for _, service, command, _ in COMMANDS} >= {
        ("sqs", "start-message-move-task"),
        ("dynamodb", "query"),
        ("s3", "cp"),
    }


@pytest.mark.parametrize(("where", "service", "command", "options"), COMMANDS, ids=lambda v: str(v))
def test_command_and_options_exist(where: str, service: str, command: str, options: list[str]) -> None:
    if (service, command) in CUSTOM_COMMANDS:
        allowed = CUSTOM_COMMANDS[service, command]
    else:
        model = botocore.session.get_session().get_service_model(service)
        operations = {xform_name(name, "-"): name for name in model.operation_names}
        assert command in operations, f"{where}: aws {service} has no command {command}"
        shape = model.operation_model(operations[command]).input_shape
        members = shape.members if shape is not None else {}
        allowed = {xform_name(name, "-") for name in members}
        allowed |= {f"no-{xform_name(n, '-')}" for n, s in members.items() if s.type_name == "boolean"}
    unknown = [option for option in options if option not in allowed | GLOBAL_OPTIONS]
    assert not unknown, f"{where}: aws {service} {command} has no option {unknown}"
