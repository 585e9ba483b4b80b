"""`hitl local`: the whole pipeline on this machine, offline: `up`, `demo`, `fetch-model`."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, cast

import click

from hitl.commands.local_model import fetch_model_command
from hitl.commands.options import config_option, load_pipeline_config
from hitl.local.aws_resources import REVIEW_BACKENDS
from hitl.local.demo import DemoResult, Reviewer, run_demo, summary_lines
from hitl.local.model_store import DEFAULT_CACHE_DIR, ModelStoreError
from hitl.local.sample_photos import SamplePhotoError, copy_sample_photos, list_images
from hitl.local.servers import PortUnavailable
from hitl.local.stack import (
    DEFAULT_INGEST_CONCURRENCY,
    DEFAULT_STATE_DIR,
    ENDPOINTS_FILE,
    ENV_FILE,
    LOCAL_VISIBILITY_TIMEOUT_SECONDS,
    LocalStack,
    StackEndpoints,
    StackSettings,
)
from hitl.local.worker_process import WorkerStartError
from hitl_core.config import ConfigError


@click.group()
def local() -> None:
    """Run the pipeline offline: moto for S3/SQS/EventBridge/DynamoDB, a real detector, and the
    built-in review service (or a local A2I)."""


local.add_command(fetch_model_command)


def _stack_options(
    default_ports: tuple[int, int, int, int],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    aws, runtime, a2i, review = default_ports
    options = [
        config_option,
        click.option(
            "--state-dir",
            default=str(DEFAULT_STATE_DIR),
            show_default=True,
            type=click.Path(file_okay=False),
            help="Endpoints file, aws CLI env file, the AWS stand-in's state, A2I store, logs.",
        ),
        click.option(
            "--model-dir",
            default=str(DEFAULT_CACHE_DIR),
            show_default=True,
            type=click.Path(file_okay=False),
            help="Where `hitl local fetch-model` cached the detector.",
        ),
        click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on."),
        click.option(
            "--aws-port", default=aws, show_default=True, help="moto: S3, SQS, EventBridge (0: free)."
        ),
        click.option(
            "--endpoint-port", default=runtime, show_default=True, help="SageMaker runtime (0: free)."
        ),
        click.option(
            "--a2i-port",
            default=a2i,
            show_default=True,
            help="A2I runtime, with --review-backend a2i (0: free).",
        ),
        click.option(
            "--review-port",
            default=review,
            show_default=True,
            help="Review page: the built-in service's site and API, or the A2I review page (0: free).",
        ),
        click.option(
            "--review-backend",
            type=click.Choice(REVIEW_BACKENDS),
            default="builtin",
            show_default=True,
            help="builtin: the project's review service (task table, review API, sign-in stand-in); "
            "a2i: the local A2I runtime and its review page.",
        ),
        click.option(
            "--ingest-concurrency",
            default=DEFAULT_INGEST_CONCURRENCY,
            show_default=True,
            type=click.IntRange(min=1, max=32),
            help="Ingest worker processes, as Lambda runs concurrent copies of the function.",
        ),
        click.option(
            "--visibility-timeout",
            default=LOCAL_VISIBILITY_TIMEOUT_SECONDS,
            show_default=True,
            type=click.IntRange(min=0),
            help="Seconds before a failed message is retried locally; 0 keeps the wiring's (6x the "
            "function timeout), as on AWS.",
        ),
    ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


# The local stack's servers (BackgroundServer names) and the options that set their ports.
PORT_OPTIONS = {
    "aws": "--aws-port",
    "endpoint": "--endpoint-port",
    "a2i": "--a2i-port",
    "review-page": "--review-port",
}


def port_unavailable_message(err: PortUnavailable) -> str:
    """What to tell the user when a server's port cannot be bound: which port, and how to move it."""
    option = PORT_OPTIONS.get(err.server)
    fix = f"choose another with {option} (0 picks a free port)" if option else "choose another port"
    return (
        f"cannot start the local stack: port {err.port} on {err.host} for the {err.server} server "
        f"is not available ({err.reason}); {fix}. Nothing was left running."
    )


def _settings(options: dict[str, Any]) -> StackSettings:
    return StackSettings(
        config=load_pipeline_config(options["config_path"]),
        state_dir=Path(options["state_dir"]),
        model_dir=Path(options["model_dir"]),
        host=options["host"],
        moto_port=options["aws_port"],
        endpoint_port=options["endpoint_port"],
        a2i_port=options["a2i_port"],
        review_port=options["review_port"],
        visibility_timeout_seconds=options["visibility_timeout"] or None,
        review_backend=options["review_backend"],
        ingest_concurrency=options["ingest_concurrency"],
    )


def _start(stack: LocalStack) -> StackEndpoints:
    """Start the stack, turning the failures a user can fix into a clear message."""
    try:
        return stack.start()
    except (ModelStoreError, ConfigError) as err:
        raise click.ClickException(str(err)) from None
    except WorkerStartError as err:
        raise click.ClickException(str(err)) from None
    except PortUnavailable as err:
        raise click.ClickException(port_unavailable_message(err)) from None
    except OSError as err:
        raise click.ClickException(f"cannot start the local stack: {err} (is a port in use?)") from None


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Stop as for Ctrl-C when asked to terminate, so the stack shuts down in order."""

    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def endpoint_lines(endpoints: StackEndpoints, stack: LocalStack) -> list[str]:
    names = endpoints.names
    incoming = stack.settings.config.prefixes.incoming
    state = stack.state_dir
    if endpoints.a2i_runtime:
        review = [
            f"  A2I runtime                 {endpoints.a2i_runtime}   {names.flow_definition_arn}",
            f"  Review page                 {endpoints.review_page}",
        ]
    else:
        review = [
            f"  Review API (built-in)       {endpoints.review_api}   task table {names.review_tasks_table}",
            f"  Review page                 {endpoints.review_page}   (local sign-in stand-in: any "
            "reviewer name, no password)",
        ]
    return [
        f"  AWS (moto)                  {endpoints.aws}   S3, SQS, EventBridge, DynamoDB",
        f"  SageMaker runtime           {endpoints.sagemaker_runtime}   endpoint {names.endpoint_name}",
        *review,
        f"  Drop images into            s3://{names.input_bucket}/{incoming}",
        f"  Event bus                   {names.event_bus} (every event is copied to queue "
        f"{stack.resources.events_queue.spec.name if stack.resources else '?'})",
        f"  Endpoints file              {state / ENDPOINTS_FILE}",
        f"  For the aws CLI / boto3     source {state / ENV_FILE}",
    ]


@local.command()
@_stack_options((4566, 4567, 4568, 4569))
def up(**options: Any) -> None:
    """Start the local stack and keep it running until Ctrl-C.

    Its state (buckets, queues, tables, rules; the A2I store) is kept in the state folder when it
    stops, and a start on the same folder carries on from there.
    """
    stack = LocalStack(_settings(options), on_line=click.echo)
    click.echo("Starting the local stack ...")
    with _sigterm_as_interrupt():
        try:
            endpoints = _start(stack)
            click.echo("Local stack up (Ctrl-C stops it):")
            for line in endpoint_lines(endpoints, stack):
                click.echo(line)
            target = f"s3://{endpoints.names.input_bucket}/{stack.settings.config.prefixes.incoming}"
            click.echo(f"Try:  source {stack.state_dir / ENV_FILE} && aws s3 cp photo.jpg {target}")
            click.echo("Worker progress follows.")
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("Stopping ...")
        finally:
            stack.stop()
    click.echo("Local stack stopped.")


def _worker_trouble(line: str) -> None:
    """In the demo, a worker's line is worth showing only when a batch did not fully succeed."""
    if "left on the queue" in line:
        click.echo(f"  {line}")


@local.command()
@_stack_options((0, 0, 0, 0))
@click.option(
    "--images",
    "images_dir",
    type=click.Path(exists=True, file_okay=False),
    help="A folder of JPEG/PNG files to drop (default: scikit-image's sample photos).",
)
@click.option(
    "--reviewer",
    type=click.Choice(["auto", "person"]),
    default="auto",
    show_default=True,
    help="auto: a simulated reviewer accepts the proposed boxes (workerId 'simulated-reviewer'); "
    "person: wait for answers from the review page.",
)
@click.option(
    "--timeout",
    default=180,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds to wait for the run to finish (auto reviewer only; a person is waited for).",
)
@click.option("--keep-running", is_flag=True, help="Leave the stack up after the summary, until Ctrl-C.")
def demo(images_dir: str | None, reviewer: str, timeout: int, keep_running: bool, **options: Any) -> None:
    """Start the local stack, drop photos, follow them to the training manifest, and summarise."""
    settings = _settings(options)
    try:
        if images_dir:
            images = list_images(Path(images_dir))
        else:
            images = copy_sample_photos(settings.state_dir / "sample-photos")
    except SamplePhotoError as err:
        raise click.ClickException(str(err)) from None
    stack = LocalStack(settings, on_line=_worker_trouble)
    mode = cast(Reviewer, reviewer)
    result: DemoResult | None = None
    backend = "the built-in review service" if settings.review_backend == "builtin" else "A2I"
    click.echo(
        f"Starting the local stack (moto, the SSD detector endpoint, {backend}, the function workers) ..."
    )
    with _sigterm_as_interrupt():
        try:
            endpoints = _start(stack)
            for line in endpoint_lines(endpoints, stack):
                click.echo(line)
            result = run_demo(stack, images, mode, None if mode == "person" else timeout, click.echo)
            for line in summary_lines(result, stack, mode):
                click.echo(line)
            if keep_running and not result.interrupted:
                click.echo("The stack keeps running; Ctrl-C stops it.")
                threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("Stopping ...")
        finally:
            stack.stop()
    click.echo("Local stack stopped; nothing left running.")
    if result is None or result.timed_out or result.interrupted:
        raise SystemExit(1)
