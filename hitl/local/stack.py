"""The local stack: moto (S3, SQS, EventBridge), the detector endpoint, the A2I runtime and the
function workers, on loopback ports, started and stopped together.

The servers run as threads of this process; each function runs in a worker process of its own
whose environment is what the function gets on Lambda, with endpoint URLs pointing here, so
the handlers' boto3 code does not know it is local.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

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
    create_resources,
    describe_resources,
)
from hitl.local.model_store import DEFAULT_CACHE_DIR, cached_model
from hitl.local.review_page import create_review_app
from hitl.local.servers import BackgroundServer
from hitl.local.worker import FUNCTIONS
from hitl.local.worker_process import WorkerProcess
from hitl_aws import settings as function_settings
from hitl_core.config import PipelineConfig, config_to_env

DEFAULT_STATE_DIR = Path(".hitl")
ENDPOINTS_FILE = "endpoints.json"
ENV_FILE = "local.env"
LOCAL_VISIBILITY_TIMEOUT_SECONDS = 20
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
METRICS_NAMESPACE = "HitlPipeline"


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
    names: LocalNames = field(default_factory=LocalNames)


@dataclass(frozen=True)
class StackEndpoints:
    """Every URL and resource name a client of the local stack needs; written to the state folder."""

    aws: str
    sagemaker_runtime: str
    a2i_runtime: str
    review_page: str
    names: LocalNames
    queues: dict[str, dict[str, str]]

    def client_environment(self) -> dict[str, str]:
        """The variables that point boto3 and the aws CLI at the local stack."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.aws,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": self.sagemaker_runtime,
            "AWS_ENDPOINT_URL_SAGEMAKER_A2I_RUNTIME": self.a2i_runtime,
        }

    def to_dict(self) -> dict[str, Any]:
        names = self.names
        return {
            "region": REGION,
            "account": ACCOUNT,
            "endpoints": {
                "s3": self.aws,
                "sqs": self.aws,
                "events": self.aws,
                "sagemaker-runtime": self.sagemaker_runtime,
                "sagemaker-a2i-runtime": self.a2i_runtime,
                "review-page": self.review_page,
            },
            "buckets": {
                "input": names.input_bucket,
                "review-output": names.review_output_bucket,
                "training": names.training_bucket,
            },
            "event-bus": names.event_bus,
            "flow-definition-arn": names.flow_definition_arn,
            "endpoint-name": names.endpoint_name,
            "queues": self.queues,
        }


def _queues(created: CreatedResources) -> dict[str, dict[str, str]]:
    return {name: {"url": q.url, "dlq-url": q.dlq_url} for name, q in created.queues.items()}


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
            "POWERTOOLS_SERVICE_NAME": FUNCTIONS[function].package.replace("_", "-"),
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environment


class LocalStack:
    """Start with `start()` (or `with LocalStack(...)`), stop with `stop()`; nothing outlives it."""

    def __init__(self, settings: StackSettings, on_line: Callable[[str], None] = print) -> None:
        self.settings = settings
        self._say = on_line
        self._moto: BackgroundServer | None = None
        self._endpoint: BackgroundServer | None = None
        self._a2i: BackgroundServer | None = None
        self._a2i_store: LoopStore | None = None
        self._review: BackgroundServer | None = None
        self._workers: list[WorkerProcess] = []
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
        assert self._moto is not None, "the stack is not started"
        return self._moto.url

    def client(self, service: str) -> Any:
        """A boto3 client for the local stack (S3, SQS, EventBridge, SageMaker runtime or A2I)."""
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
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        files = cached_model(settings.model_dir)

        self._moto = BackgroundServer(
            "aws",
            DomainDispatcherApplication(create_backend_app),
            settings.host,
            settings.moto_port,
            request_handler=MotoRequestHandler,
        )
        resources = describe_resources(settings.config, settings.names, settings.visibility_timeout_seconds)
        self.resources = create_resources(self._aws_client, resources)

        self._endpoint = self._start_endpoint(files)
        self._a2i = self._start_a2i(settings.a2i_port)
        self._review = BackgroundServer(
            "review-page",
            create_review_app(self._a2i.url, self._aws_client("s3")),
            settings.host,
            settings.review_port,
        )
        self.endpoints = StackEndpoints(
            aws=self.aws_url,
            sagemaker_runtime=self._endpoint.url,
            a2i_runtime=self._a2i.url,
            review_page=f"{self._review.url}/",
            names=settings.names,
            queues=_queues(self.resources),
        )
        for function, spec in FUNCTIONS.items():
            queue = self.resources.queue(spec.wiring)
            self._workers.append(
                WorkerProcess(
                    function,
                    queue.url,
                    queue.arn,
                    function_environment(function, settings, self.endpoints, os.environ),
                    settings.state_dir / "logs" / f"{function}.log",
                    self._say,
                )
            )
        for worker in self._workers:
            worker.wait_ready()
        self._write_endpoint_files(self.endpoints)
        return self.endpoints

    def _aws_client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws_url,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def _start_endpoint(self, files: Any) -> BackgroundServer:
        from hitl.local.detector import SsdDetector
        from hitl.local.endpoint import create_endpoint_app

        detector = SsdDetector(files)
        app = create_endpoint_app(detector, self.settings.config.labels, self.settings.names.endpoint_name)
        return BackgroundServer("endpoint", app, self.settings.host, self.settings.endpoint_port)

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
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        for name in (ENDPOINTS_FILE, ENV_FILE):
            (self.settings.state_dir / name).unlink(missing_ok=True)
