"""The pipeline's buckets: images in, A2I's answers, training data; private, encrypted, TLS-only, logged."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from hitl_core.config import Prefixes


@dataclass(frozen=True)
class StorageProps:
    prefixes: Prefixes
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    access_log_retention_days: int = 365


class Storage(Construct):
    """Input bucket (EventBridge on, CORS GET for the task UI), review-output bucket, training-data bucket."""

    def __init__(self, scope: Construct, construct_id: str, props: StorageProps) -> None:
        super().__init__(scope, construct_id)
        self.prefixes = props.prefixes
        destroy = props.removal_policy == RemovalPolicy.DESTROY
        common = {
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "removal_policy": props.removal_policy,
            "auto_delete_objects": destroy,
        }
        abort_uploads = s3.LifecycleRule(
            id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)
        )

        # S3 writes server access logs only with SSE-S3, and a log bucket does not log itself.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            **common,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-logs", expiration=Duration.days(props.access_log_retention_days))
            ],
        )
        self.input = s3.Bucket(
            self,
            "Input",
            **common,
            event_bridge_enabled=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="input/",
            # The worker task UI loads the image from a presigned URL in the reviewer's browser.
            cors=[s3.CorsRule(allowed_methods=[s3.HttpMethods.GET], allowed_origins=["*"], max_age=3000)],
            # Images stay: the training manifest refers to them by source-ref.
            lifecycle_rules=[
                abort_uploads,
                s3.LifecycleRule(
                    id="tier-images",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                            transition_after=Duration.days(0),
                        )
                    ],
                ),
            ],
        )
        self.review_output = s3.Bucket(
            self,
            "ReviewOutput",
            **common,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="review-output/",
            lifecycle_rules=[
                abort_uploads,
                s3.LifecycleRule(
                    id="infrequent-answers",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(30),
                        )
                    ],
                ),
            ],
        )
        self.training = s3.Bucket(
            self,
            "TrainingData",
            **common,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="training-data/",
            lifecycle_rules=[
                abort_uploads,
                s3.LifecycleRule(id="expire-old-versions", noncurrent_version_expiration=Duration.days(90)),
                # Quarantined human answers wait for a person to fix them: archived, never deleted.
                s3.LifecycleRule(
                    id="archive-quarantine",
                    prefix=props.prefixes.quarantine,
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(90),
                        )
                    ],
                ),
            ],
        )

    def input_objects_arn(self) -> str:
        """The objects the pipeline reads from the input bucket (the incoming prefix)."""
        return self.input.arn_for_objects(f"{self.prefixes.incoming}*")

    def review_output_arn(self) -> str:
        """Where A2I writes its answers."""
        return self.review_output.arn_for_objects(f"{self.prefixes.review_output}*")

    def training_arns(self, *prefixes: str) -> list[str]:
        """Objects under the given prefixes of the training-data bucket."""
        return [self.training.arn_for_objects(f"{prefix}*") for prefix in prefixes]
