"""The local stack: moto (S3, SQS, EventBridge, DynamoDB), the detector endpoint, the review
backend (the built-in review service, or the A2I runtime and its review page) and the function
workers, on loopback ports, started and stopped together.

moto runs in a process of its own (`hitl.local.aws_stand_in`); the detector endpoint and the A2I
runtime and review page are threads of this process. Each function runs in a worker process of
its own whose environment is what the function gets on Lambda, with endpoint URLs pointing
here, so the handlers' boto3 code does not know it is local.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

import hitl
from hitl.local.a2i.app import create_a2i_app
from hitl.local.a2i.loops import FlowDefinition
from hitl.local.a2i.output import S3OutputWriter
from hitl.local.a2i.status_events import EventBridgeEmitter
from hitl.local.a2i.store import LoopStore
from hitl.local.aws_resources import (
    ACCOUNT,
    REGION,
    CreatedResources,
    LocalNames,
    ReviewBackend,
    counts_a2i_loops,
    create_resources,
    describe_resources,
    has_pending_loop_table,
)
from hitl.local.faults import ThrottleFault
from hitl.local.model_store import DEFAULT_CACHE_DIR, cached_model
from hitl.local.review_page import create_review_app
from hitl.local.review_service.site import API_PATH, SIGN_IN_SECRET, SITE_URL, sign_in_url
from hitl.local.review_service.streams import CHECKPOINT_FILE as STREAM_CHECKPOINT
from hitl.local.review_service.tokens import LocalTokens
from hitl.local.servers import BackgroundServer, listening_socket
from hitl.local.worker import FUNCTIONS
from hitl.local.worker_process import WorkerProcess
from hitl_aws import settings as function_settings
from hitl_core.config import PipelineConfig, check_a2i_labels, check_a2i_review_team, config_to_env
from hitl_core.review_tasks import ReviewTiming
from hitl_review_service import settings as review_settings

DEFAULT_STATE_DIR = Path(".hitl")
ENDPOINTS_FILE = "endpoints.json"
ENV_FILE = "local.env"
LOCAL_VISIBILITY_TIMEOUT_SECONDS = 20
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
METRICS_NAMESPACE = "HitlPipeline"
LOCAL_REVIEW_TIMING = ReviewTiming(lease_seconds=3600, availability_seconds=86_400, task_count=1)
"""As the deployment's defaults (`review.task_time_limit_seconds`, ...availability..., `task_count`)."""
REVIEW_SWEEP_SECONDS = 60.0
"""How often the lifecycle sweep runs, as its schedule does on AWS."""
REVIEW_SERVICE_PACKAGE = "hitl_review_service"
LOOP_STARTER = "a2i-loop-starter"
"""The a2i backend's scheduled loop starter (with a review budget), run as the review service's sweep is."""
AWS_STAND_IN = "aws"
"""The AWS stand-in's process (`hitl.local.aws_stand_in`), as its log file and port option name it."""
AWS_STATE_FILE = "aws-state.pickle"
"""Where the AWS stand-in keeps moto's state between runs, in the state folder (`hitl.local.aws_state`)."""
OUTBOX_CHECKPOINT_FILE = "review-outbox-stream.json"
"""Where the outbox's stream poller keeps its position between runs, as the event source mapping does."""
DEFAULT_INGEST_CONCURRENCY = 4
"""Ingest workers, as Lambda runs concurrent copies: each spends much of a batch waiting on the
stand-ins, so four keep the detector busier than one, even on two cores (see benchmarks/RESULTS.md)."""


@dataclass(frozen=True)
class StackSettings:
    """Where the local stack listens and keeps its state. Port 0 picks a free port."""

    config: PipelineConfig
    state_dir: Path = DEFAULT_STATE_DIR
    host: str = "127.0.0.1"
    moto_port: int = 0
    endpoint_port: int = 0
    a2i_port: int = 0
    review_port: int = 0
    model_dir: Path = DEFAULT_CACHE_DIR
    visibility_timeout_seconds: int | None = LOCAL_VISIBILITY_TIMEOUT_SECONDS
    ingest_concurrency: int = DEFAULT_INGEST_CONCURRENCY
    detector_throttle_fraction: float = 0.0
    names: LocalNames = field(default_factory=LocalNames)
    review_backend: ReviewBackend = "builtin"
    review_timing: ReviewTiming = LOCAL_REVIEW_TIMING
    review_sweep_seconds: float = REVIEW_SWEEP_SECONDS


@dataclass(frozen=True)
class StackEndpoints:
    """Every URL and resource name a client of the local stack needs; written to the state folder."""

    aws: str
    sagemaker_runtime: str
    review_page: str
    names: LocalNames
    queues: dict[str, dict[str, str]]
    review_backend: ReviewBackend = "builtin"
    a2i_runtime: str | None = None
    review_api: str | None = None

    def client_environment(self) -> dict[str, str]:
        """The variables that point boto3 and the aws CLI at the local stack."""
        environment = {
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.aws,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": self.sagemaker_runtime,
        }
        if self.a2i_runtime:
            environment["AWS_ENDPOINT_URL_SAGEMAKER_A2I_RUNTIME"] = self.a2i_runtime
        return environment

    def to_dict(self) -> dict[str, Any]:
        names = self.names
        optional = {"sagemaker-a2i-runtime": self.a2i_runtime, "review-api": self.review_api}
        return {
            "region": REGION,
            "account": ACCOUNT,
            "review-backend": self.review_backend,
            "endpoints": {
                "s3": self.aws,
                "sqs": self.aws,
                "events": self.aws,
                "dynamodb": self.aws,
                "sagemaker-runtime": self.sagemaker_runtime,
                **{name: url for name, url in optional.items() if url},
                "review-page": self.review_page,
            },
            "buckets": {
                "input": names.input_bucket,
                "review-output": names.review_output_bucket,
                "training": names.training_bucket,
            },
            "event-bus": names.event_bus,
            **(
                {"flow-definition-arn": names.flow_definition_arn}
                if self.review_backend == "a2i"
                else {"review-tasks-table": names.review_tasks_table}
            ),
            "endpoint-name": names.endpoint_name,
            "queues": self.queues,
        }


def _queues(created: CreatedResources) -> dict[str, dict[str, str]]:
    return {name: {"url": q.url, "dlq-url": q.dlq_url} for name, q in created.queues.items()}


def _package(function: str) -> str:
    """The code package a function runs from (which also names its Powertools service)."""
    return FUNCTIONS[function].package if function in FUNCTIONS else REVIEW_SERVICE_PACKAGE


def review_service_environment(settings: StackSettings) -> dict[str, str]:
    """The built-in review service's settings, as the CDK construct deploys its functions with."""
    names, timing = settings.names, settings.review_timing
    return {
        review_settings.REVIEW_TASKS_TABLE: names.review_tasks_table,
        review_settings.REVIEW_OUTPUT_BUCKET: names.review_output_bucket,
        review_settings.REVIEW_OUTPUT_PREFIX: settings.config.prefixes.review_output,
        review_settings.EVENT_BUS_NAME: names.event_bus,
        review_settings.REVIEW_SERVICE_NAME: names.review_service_name,
        review_settings.REVIEW_TASK_COUNT: str(timing.task_count),
        review_settings.REVIEW_TASK_TIME_LIMIT_SECONDS: str(timing.lease_seconds),
        review_settings.REVIEW_TASK_AVAILABILITY_SECONDS: str(timing.availability_seconds),
        review_settings.REVIEW_TEAM: settings.config.review.model_dump_json(),
    }


def function_environment(
    function: str, settings: StackSettings, endpoints: StackEndpoints, base: Mapping[str, str]
) -> dict[str, str]:
    """A function's environment: the variables the CDK stack deploys it with, plus local endpoints."""
    names = settings.names
    environment = {k: v for k, v in base.items() if not k.startswith("AWS_")}
    lambdas = Path(hitl.__file__).resolve().parent.parent / "lambdas"
    if lambdas.is_dir():
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(lambdas), environment.get("PYTHONPATH", "")) if p
        )
    environment.update(endpoints.client_environment())
    environment.update(
        {
            "HITL_CONFIG": config_to_env(settings.config),
            function_settings.EVENT_BUS_NAME: names.event_bus,
            function_settings.TRAINING_BUCKET: names.training_bucket,
            function_settings.FLOW_DEFINITION_ARN: names.flow_definition_arn,
            function_settings.ENDPOINT_NAME: names.endpoint_name,
            "POWERTOOLS_SERVICE_NAME": _package(function).replace("_", "-"),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_TRACE_DISABLED": "true",
            function_settings.REVIEW_BACKEND: settings.review_backend,
        }
    )
    if settings.review_backend == "builtin":
        environment.update(review_service_environment(settings))
    if has_pending_loop_table(settings.config, settings.review_backend):
        environment[function_settings.PENDING_LOOPS_TABLE] = names.pending_loops_table
    return environment


def start_aws_stand_in(
    host: str, port: int, state_dir: Path, on_line: Callable[[str], None]
) -> tuple[WorkerProcess, str]:
    """moto in its own process (`hitl.local.aws_stand_in`) on a port bound here (a taken one fails
    at once), starting from the state it saved in `state_dir` when it last stopped; the process,
    ready, and its URL."""
    with listening_socket(AWS_STAND_IN, host, port) as listener:
        bound_host, bound_port = listener.getsockname()[:2]
        process = WorkerProcess(
            AWS_STAND_IN,
            [str(listener.fileno()), str(state_dir / AWS_STATE_FILE)],
            os.environ,
            state_dir / "logs" / f"{AWS_STAND_IN}.log",
            on_line,
            module="hitl.local.aws_stand_in",
            pass_fds=[listener.fileno()],
        )
    try:
        process.wait_ready()
    except BaseException:
        process.stop()
        raise
    return process, f"http://{bound_host}:{bound_port}"


class LocalStack:
    """Start with `start()` (or `with LocalStack(...)`), stop with `stop()`; nothing outlives it."""

    def __init__(self, settings: StackSettings, on_line: Callable[[str], None] = print) -> None:
        self.settings = settings
        self._say = on_line
        self._aws: WorkerProcess | None = None
        self._aws_url: str | None = None
        self._endpoint: BackgroundServer | None = None
        self._a2i: BackgroundServer | None = None
        self._a2i_store: LoopStore | None = None
        self._review: BackgroundServer | None = None
        self._workers: list[WorkerProcess] = []
        self.review_tokens: LocalTokens | None = None
        self.detector_throttle = ThrottleFault(settings.detector_throttle_fraction)
        self.resources: CreatedResources | None = None
        self.endpoints: StackEndpoints | None = None

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir

    @property
    def aws_url(self) -> str:
        assert self._aws_url is not None, "the stack is not started"
        return self._aws_url

    def client(self, service: str) -> Any:
        """A boto3 client for the local stack (S3, SQS, EventBridge, DynamoDB, SageMaker runtime, A2I)."""
        assert self.endpoints is not None, "the stack is not started"
        urls = {
            "sagemaker-runtime": self.endpoints.sagemaker_runtime,
            "sagemaker-a2i-runtime": self.endpoints.a2i_runtime,
        }
        return boto3.client(
            service,
            endpoint_url=urls.get(service, self.endpoints.aws),
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def start(self) -> StackEndpoints:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackEndpoints:
        settings = self.settings
        if settings.review_backend == "a2i":
            check_a2i_labels(settings.config)
            check_a2i_review_team(settings.config)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        files = cached_model(settings.model_dir)

        self._start_aws()
        resources = describe_resources(
            settings.config, settings.names, settings.visibility_timeout_seconds, settings.review_backend
        )
        self.resources = create_resources(self._aws_client, resources)

        self._endpoint = self._start_endpoint(files)
        if settings.review_backend == "a2i":
            self._a2i = self._start_a2i(settings.a2i_port)
            self._review = BackgroundServer(
                "review-page",
                create_review_app(self._a2i.url, self._aws_client("s3")),
                settings.host,
                settings.review_port,
            )
            review_page, review_api = f"{self._review.url}/", None
        else:
            listener = listening_socket("review-page", settings.host, settings.review_port)
            host, port = listener.getsockname()[:2]
            site = f"http://{host}:{port}"
            review_page, review_api = f"{site}/", f"{site}{API_PATH}"
            self.review_tokens = LocalTokens(secrets.token_bytes(32), sign_in_url(site))
        self.endpoints = StackEndpoints(
            aws=self.aws_url,
            sagemaker_runtime=self._endpoint.url,
            review_page=review_page,
            names=settings.names,
            queues=_queues(self.resources),
            review_backend=settings.review_backend,
            a2i_runtime=self._a2i.url if self._a2i else None,
            review_api=review_api,
        )
        for function, spec in FUNCTIONS.items():
            queue = self.resources.queue(spec.wiring)
            copies = settings.ingest_concurrency if function == "ingest" else 1
            for _ in range(copies):
                self._start_worker(function, [queue.url, queue.arn])
        if settings.review_backend == "builtin":
            with listener:
                self._start_review_service(listener.fileno(), site)
        if counts_a2i_loops(settings.config, settings.review_backend):
            # The a2i budget's loop starter, every sweep interval as its schedule runs it on AWS.
            self._start_worker(
                LOOP_STARTER, [str(settings.review_sweep_seconds)], module="hitl.local.review_service"
            )
        for worker in self._workers:
            worker.wait_ready()
        self._write_endpoint_files(self.endpoints)
        return self.endpoints

    def _start_aws(self) -> None:
        settings = self.settings
        self._aws, self._aws_url = start_aws_stand_in(
            settings.host, settings.moto_port, settings.state_dir, self._say
        )

    def _start_worker(
        self, function: str, arguments: list[str], extra: Mapping[str, str] | None = None, **process: Any
    ) -> None:
        self._workers.append(self._new_worker(function, arguments, extra, **process))

    def _new_worker(
        self, function: str, arguments: list[str], extra: Mapping[str, str] | None = None, **process: Any
    ) -> WorkerProcess:
        """A worker process for `function`; a function's copies share one log file."""
        environment = function_environment(function, self.settings, self._endpoints(), os.environ)
        return WorkerProcess(
            function,
            arguments,
            {**environment, **(extra or {})},
            self.settings.state_dir / "logs" / f"{function}.log",
            self._say,
            **process,
        )

    def _endpoints(self) -> StackEndpoints:
        assert self.endpoints is not None, "the stack is not started"
        return self.endpoints

    def _start_review_service(self, site_fd: int, site: str) -> None:
        """The built-in review service's API (with the review site), outbox and lifecycle sweep."""
        assert self.review_tokens is not None
        module = "hitl.local.review_service"
        site_environment = {SITE_URL: site, SIGN_IN_SECRET: self.review_tokens.secret.hex()}
        self._start_worker("review-api", [str(site_fd)], site_environment, module=module, pass_fds=[site_fd])
        checkpoint = {STREAM_CHECKPOINT: str(self.settings.state_dir / OUTBOX_CHECKPOINT_FILE)}
        self._start_worker("review-outbox", [], checkpoint, module=module)
        self._start_worker("review-lifecycle", [str(self.settings.review_sweep_seconds)], module=module)

    def worker_pids(self, function: str) -> list[int]:
        """The process ids of the function's running workers (`aws`: the AWS stand-in's)."""
        workers = [self._aws] if function == AWS_STAND_IN and self._aws else self._workers
        return [worker.pid for worker in workers if worker.function == function]

    def kill_worker(self, function: str) -> int:
        """Kill one of the function's workers at once (SIGKILL, mid-batch, as a crashed execution
        environment), start a fresh one in its place, and return the killed process id.

        The messages it held come back after the queue's visibility timeout.
        """
        index = next(i for i, worker in enumerate(self._workers) if worker.function == function)
        killed = self._workers[index]
        killed.kill()
        assert self.resources is not None, "the stack is not started"
        queue = self.resources.queue(FUNCTIONS[function].wiring)
        self._workers[index] = self._new_worker(function, [queue.url, queue.arn])
        self._workers[index].wait_ready()
        return killed.pid

    def _aws_client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws_url,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def _start_endpoint(self, files: Any) -> BackgroundServer:
        from hitl.local.endpoint import serve_ssd_endpoint

        settings = self.settings
        return serve_ssd_endpoint(
            files,
            settings.config.labels,
            settings.names.endpoint_name,
            settings.host,
            settings.endpoint_port,
            self.detector_throttle,
        )

    def _start_a2i(self, port: int) -> BackgroundServer:
        names, prefixes = self.settings.names, self.settings.config.prefixes
        flow = FlowDefinition(
            arn=names.flow_definition_arn,
            output_path=f"s3://{names.review_output_bucket}/{prefixes.review_output}",
        )
        self._a2i_store = LoopStore(self.settings.state_dir / "a2i")
        app = create_a2i_app(
            self._a2i_store,
            S3OutputWriter(self._aws_client("s3")),
            EventBridgeEmitter(self._aws_client("events")),
            flow_definitions=[flow],
        )
        return BackgroundServer("a2i", app, self.settings.host, port)

    def restart_a2i(self) -> None:
        """Stop the A2I runtime and start it again on the same port, from its durable store."""
        assert self._a2i is not None, "the stack is not started"
        port = self._a2i.port
        self._stop_a2i()
        self._a2i = self._start_a2i(port)

    def _stop_a2i(self) -> None:
        if self._a2i is not None:
            self._a2i.stop()
            self._a2i = None
        if self._a2i_store is not None:
            self._a2i_store.close()
            self._a2i_store = None

    def _write_endpoint_files(self, endpoints: StackEndpoints) -> None:
        state = self.settings.state_dir
        (state / ENDPOINTS_FILE).write_text(json.dumps(endpoints.to_dict(), indent=2) + "\n")
        lines = [f"export {name}={value}" for name, value in endpoints.client_environment().items()]
        (state / ENV_FILE).write_text("\n".join(lines) + "\n")

    def stop(self) -> None:
        """Stop the workers (each finishes its batch), then the servers; remove the endpoint files."""
        for worker in self._workers:  # all at once: each takes up to a long poll to notice
            worker.ask_to_stop()
        for worker in self._workers:
            worker.stop()
        self._workers.clear()
        if self._review is not None:
            self._review.stop()
            self._review = None
        self._stop_a2i()
        if self._endpoint is not None:
            self._endpoint.stop()
            self._endpoint = None
        if self._aws is not None:
            self._aws.stop()
            self._aws = None
            self._aws_url = None
        for name in (ENDPOINTS_FILE, ENV_FILE):
            (self.settings.state_dir / name).unlink(missing_ok=True)
