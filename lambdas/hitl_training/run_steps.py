"""The retraining workflow's own steps around the training job: build the dataset and claim the run,
judge the trained model, and record how the run ended (completed or failed) with its event.

Every step is safe to repeat: the run id is a digest of the dataset, the run record is claimed
with a conditional write, and each later step overwrites its own files with the same content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from hitl_aws.publisher import EventPublisher
from hitl_core.events import (
    DatasetSummary,
    TrainingCompleted,
    TrainingDatasetBuilt,
    TrainingFailed,
    TrainingStarted,
)
from hitl_core.manifest import parse_lines
from hitl_core.training_dataset import SourceManifest, manifest_text
from hitl_core.training_gate import F1_METRIC, MAP_METRIC, final_metric, judge, rekognition_f1
from hitl_core.training_plan import RunLayout, configured_dataset, plan_run, run_id_for
from hitl_core.training_requests import (
    MODEL_SHAPE,
    job_shape,
    model_package_request,
    model_shape,
    start_model_command,
    training_job_of,
)
from hitl_training.run_files import RunFiles
from hitl_training.settings import TrainingSettings

RECORD = "run.json"
MAX_ATTEMPTS = 20


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def model_package_group(name_prefix: str) -> str:
    """The model package group the stack creates and the runs register in."""
    return f"{name_prefix}-detector"


@dataclass
class TrainingRun:
    settings: TrainingSettings
    files: RunFiles
    publisher: EventPublisher
    rekognition: Any = None
    sagemaker: Any = None

    def _layout(self, run_id: str) -> RunLayout:
        return RunLayout(self.settings.training_bucket, self.settings.config.prefixes.training_runs, run_id)

    def _current_model(self, layout: RunLayout) -> dict[str, Any]:
        return self.files.read_json(layout.current_model_key) or {}

    def build(self, execution: str) -> dict[str, Any]:
        """Fold, split and write the dataset; claim the run; announce it; say what the workflow does next."""
        settings, config = self.settings, self.settings.config
        base = None
        base_uri = config.training.base_manifest
        if base_uri:
            text = self.files.read_uri(base_uri)
            if text is None:
                raise FileNotFoundError(f"training.base_manifest {base_uri} does not exist")
            base = SourceManifest(base_uri, text)
        pointer_layout = self._layout("-")
        last = self.files.read_json(pointer_layout.last_dataset_key)
        previous = None
        if last is not None:
            previous = parse_lines(self.files.read_uri(last["manifest_uri"]) or "")
        dataset = configured_dataset(
            config,
            base=base,
            sealed=self.files.sealed_manifests(config.prefixes.manifests),
            previous=previous,
        )
        self._check_image_locations(dataset.lines)
        layout, record = self._claim(dataset, execution)
        if layout is None:
            return {"action": "stop", "reason": record["reason"]}
        current = self._current_model(layout)
        current_uri = current.get("model_data_uri") or settings.configured_model_uri
        shape = None
        if settings.mode == "model-artifact" and current_uri is not None:
            shape = self._model_shape(current, current_uri)
        plan = plan_run(
            dataset=dataset,
            config=config,
            layout=layout,
            mode=settings.mode,
            name_prefix=settings.name_prefix,
            region=settings.region,
            role_arn=settings.training_role_arn,
            current_model_uri=current_uri,
            model_hyperparameters=shape,
        )
        stats = dataset.stats(config.labels)
        self.files.write_text(layout.key("manifest.manifest"), manifest_text(dataset.lines))
        self.files.write_text(layout.key("train.manifest"), manifest_text(dataset.train))
        self.files.write_text(layout.key("validation.manifest"), manifest_text(dataset.validation))
        self.files.write_json(layout.key("stats.json"), stats)
        record |= {"status": plan.training, "plan": plan.to_dict(), "stats_uri": layout.uri("stats.json")}
        self.files.write_json(layout.key(RECORD), record)
        if plan.training == "not-retrainable":
            self._remember_dataset(layout)
        summary = DatasetSummary(
            manifest_uri=layout.uri("manifest.manifest"),
            train_uri=layout.uri("train.manifest"),
            validation_uri=layout.uri("validation.manifest"),
            stats_uri=layout.uri("stats.json"),
            images=stats["images"],
            train_images=stats["train"]["images"],
            validation_images=stats["validation"]["images"],
            empty_images=stats["empty_images"],
            invalid_lines=len(stats["invalid_lines"]),
            new_answers=stats["changes"]["new_answers"],
        )
        events: list[Any] = [
            TrainingDatasetBuilt(
                run_id=layout.run_id,
                mode=plan.mode,
                dataset=summary,
                training=plan.training,
                reason=plan.reason,
                record_uri=layout.uri(RECORD),
            )
        ]
        action = "stop"
        if plan.training == "starting":
            assert plan.job_name is not None and plan.mode in ("model-artifact", "rekognition-custom-labels")
            action = "sagemaker" if plan.mode == "model-artifact" else "rekognition"
            events.append(
                TrainingStarted(
                    run_id=layout.run_id,
                    mode=plan.mode,
                    job_name=plan.job_name,
                    train_images=len(dataset.train),
                    validation_images=len(dataset.validation),
                    record_uri=layout.uri(RECORD),
                )
            )
        self.publisher.publish(events)
        return {
            "action": action,
            "reason": plan.reason,
            "run_id": layout.run_id,
            "record_uri": layout.uri(RECORD),
            "job_name": plan.job_name,
            "request": plan.request,
        }

    def _check_image_locations(self, lines: list[dict[str, Any]]) -> None:
        """Fail before training when an image lies where the training job may not read it."""
        locations = self.settings.image_locations
        if not locations or self.settings.mode not in ("model-artifact", "rekognition-custom-labels"):
            return
        outside = sorted({str(line.get("source-ref")) for line in lines} - {""})
        outside = [uri for uri in outside if not uri.startswith(locations)]
        if outside:
            raise PermissionError(
                f"{len(outside)} image(s) of the dataset lie outside what training may read "
                f"({', '.join(locations)}), e.g. {outside[0]}: copy them next to training.base_manifest "
                "(its bucket is readable) or into the input bucket's incoming prefix"
            )

    def _model_shape(self, current: dict[str, Any], model_uri: str) -> dict[str, str]:
        """The current model's base_network, num_classes and image_shape: recorded by the rollout, else
        from the training job that wrote it, else as configured; never the algorithm's defaults."""
        recorded = current.get("hyperparameters")
        if recorded and current.get("model_data_uri") == model_uri:
            return model_shape(recorded)
        job = training_job_of(model_uri)
        if job is not None and self.sagemaker is not None:
            try:
                described = self.sagemaker.describe_training_job(TrainingJobName=job)
                return job_shape(described.get("HyperParameters", {}))
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") not in (
                    "ValidationException",
                    "ResourceNotFound",
                ):
                    raise
        configured = model_shape(self.settings.config.training.hyperparameters)
        configured["num_classes"] = str(len(self.settings.config.labels))
        if set(configured) != set(MODEL_SHAPE):
            raise ValueError(
                f"cannot tell the base_network and image_shape of {model_uri}: no training job of this "
                "account wrote it; set training.hyperparameters.base_network and image_shape to the model's"
            )
        return configured

    def _claim(self, dataset: Any, execution: str) -> tuple[RunLayout | None, dict[str, Any]]:
        """The run this execution owns: a new one, its own retried one, or a retry after a failure.

        Another execution already running (or done with) the same dataset means a redelivered
        trigger: this one stops.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            layout = self._layout(run_id_for(dataset, self.settings.config, attempt))
            record = {
                "run_id": layout.run_id,
                "execution": execution,
                "status": "building",
                "started": _now(),
            }
            if self.files.create_json(layout.key(RECORD), record):
                return layout, record
            existing = self.files.read_json(layout.key(RECORD)) or {}
            if existing.get("execution") == execution:
                return layout, existing
            if existing.get("status") != "failed":
                return None, {"reason": f"run {layout.run_id} on this dataset is {existing.get('status')}"}
        return None, {"reason": f"this dataset failed {MAX_ATTEMPTS} times; see the run records"}

    def _remember_dataset(self, layout: RunLayout) -> None:
        """The next run counts its new answers against this run's dataset."""
        self.files.write_json(
            layout.last_dataset_key,
            {"run_id": layout.run_id, "manifest_uri": layout.uri("manifest.manifest")},
        )

    def evaluate(self, run: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
        """Score the new model against the current one; the model package request when it may go on."""
        settings, training = self.settings, self.settings.config.training
        layout = self._layout(run["run_id"])
        if run["action"] == "rekognition":
            new_score, metric = rekognition_f1(trained), F1_METRIC
            current_score = self._current_rekognition_f1()
            model_uri = None
        else:
            new_score, metric = final_metric(trained.get("FinalMetricDataList", []), MAP_METRIC), MAP_METRIC
            current_score = self._current_model(layout).get("score")
            model_uri = trained["ModelArtifacts"]["S3ModelArtifacts"]
        result = judge(new_score, current_score, training.min_improvement, metric)
        register = (
            run["action"] == "sagemaker" and new_score is not None and result.decision != "keep-current"
        )
        request = None
        if register:
            request = model_package_request(
                group_name=model_package_group(settings.name_prefix),
                image_uri=trained["AlgorithmSpecification"]["TrainingImage"],
                model_data_uri=str(model_uri),
                approved=training.auto_approve and result.decision == "deploy",
                description=f"run {run['run_id']}: {result.reason}",
                metadata={"run_id": run["run_id"], "metric": metric, "score": str(new_score)}
                | job_shape(trained.get("HyperParameters", {})),
            )
        return {
            "gate": result.to_dict(),
            "register": register,
            "request": request,
            "model_data_uri": model_uri,
        }

    def _current_rekognition_f1(self) -> float | None:
        """The F1 of the version the stack serves (DescribeProjectVersions), None when unknown."""
        version_arn = self.settings.rekognition_project_version_arn
        project_arn = self.settings.config.training.rekognition_project_arn
        if not version_arn or not project_arn or self.rekognition is None:
            return None
        version_name = version_arn.split("/version/", 1)[1].split("/", 1)[0]
        found = self.rekognition.describe_project_versions(
            ProjectArn=project_arn, VersionNames=[version_name]
        )
        versions = found.get("ProjectVersionDescriptions", [])
        return rekognition_f1(versions[0]) if versions else None

    def completed(
        self,
        run: dict[str, Any],
        evaluation: dict[str, Any],
        package: dict[str, Any] | None,
        trained: dict[str, Any],
    ) -> dict[str, Any]:
        """Record the run as completed, announce the scores and decision, say what happens next."""
        layout = self._layout(run["run_id"])
        gate = evaluation["gate"]
        package_arn = (package or {}).get("ModelPackageArn")
        if run["action"] == "rekognition":
            version_arn = trained.get("ProjectVersionArn", "")
            next_step = start_model_command(version_arn, run["job_name"], str(trained.get("ProjectArn", "")))
            if gate["decision"] == "keep-current":
                next_step = "keep the current version; " + next_step
        elif package_arn is None:
            next_step = "nothing: the current model stays"
        elif evaluation["request"]["ModelApprovalStatus"] == "Approved":
            next_step = "approved automatically (training.auto_approve): the endpoint update starts"
        else:
            next_step = f"approve model package {package_arn} to update the endpoint"
        record = (self.files.read_json(layout.key(RECORD)) or {}) | {
            "status": "completed",
            "finished": _now(),
            "gate": gate,
            "model_data_uri": evaluation.get("model_data_uri"),
            "model_package_arn": package_arn,
            "next_step": next_step,
        }
        self.files.write_json(layout.key(RECORD), record)
        self._remember_dataset(layout)
        self.publisher.publish(
            [
                TrainingCompleted(
                    run_id=run["run_id"],
                    mode="rekognition-custom-labels" if run["action"] == "rekognition" else "model-artifact",
                    job_name=run["job_name"],
                    metric=gate["metric"],
                    new_score=gate["new_score"],
                    current_score=gate["current_score"],
                    min_improvement=gate["min_improvement"],
                    decision=gate["decision"],
                    reason=gate["reason"],
                    model_data_uri=evaluation.get("model_data_uri"),
                    model_package_arn=package_arn,
                    next_step=next_step,
                    record_uri=layout.uri(RECORD),
                )
            ]
        )
        return {"status": "completed", "decision": gate["decision"], "model_package_arn": package_arn}

    def failed(self, run: dict[str, Any] | None, step: str, error: dict[str, Any]) -> dict[str, Any]:
        """Record the run as failed (when it got a record) and announce why."""
        run_id = (run or {}).get("run_id")
        record_uri = None
        if run_id:
            layout = self._layout(run_id)
            record = (self.files.read_json(layout.key(RECORD)) or {"run_id": run_id}) | {
                "status": "failed",
                "finished": _now(),
                "failed_step": step,
                "error": error,
            }
            self.files.write_json(layout.key(RECORD), record)
            record_uri = layout.uri(RECORD)
        detail = TrainingFailed(
            run_id=run_id,
            step=step,
            error=str(error.get("Error", "Unknown")),
            cause=str(error.get("Cause", ""))[:4000],
            record_uri=record_uri,
        )
        self.publisher.publish([detail])
        return {"status": "failed", "step": step}
