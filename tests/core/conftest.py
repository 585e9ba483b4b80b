"""The AWS shapes from /work/shared/REFERENCE.md, as fixtures for the domain core's tests.

Each fixture returns a fresh copy, so a test may change it to make a bad input.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

REFERENCE_ATTRIBUTE = "ATTR"
REFERENCE_CLASSES = ("person", "bicycle")

# Ground Truth object-detection manifest line, exactly as REFERENCE shows it.
_MANIFEST_LINE: dict[str, Any] = {
    "source-ref": "s3://bucket/key.jpg",
    "ATTR": {
        "image_size": [{"width": 3911, "height": 2608, "depth": 3}],
        "annotations": [{"class_id": 1, "left": 1042, "top": 627, "width": 2869, "height": 1801}],
    },
    "ATTR-metadata": {
        "objects": [{"confidence": 1}],
        "class-map": {"1": "bicycle"},
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "creation-date": "2020-05-01T18:24:53.742Z",
        "job-name": "a2i/LOOPNAME",
    },
}

# A2I output.json of a custom bounding-box task (element `annotatedResult`), one reviewer,
# whose answer becomes the manifest line above.
_OUTPUT_JSON: dict[str, Any] = {
    "flowDefinitionArn": "arn:aws:sagemaker:us-east-1:111122223333:flow-definition/hitl-review",
    "humanLoopName": "LOOPNAME",
    "inputContent": {
        "taskObject": "s3://bucket/key.jpg",
        "labels": ["person", "bicycle"],
        "initialValue": [{"label": "bicycle", "left": 1000, "top": 600, "width": 2800, "height": 1800}],
    },
    "humanAnswers": [
        {
            "acceptanceTime": "2020-05-01T18:20:11.163Z",
            "answerContent": {
                "annotatedResult": {
                    "boundingBoxes": [
                        {"label": "bicycle", "left": 1042, "top": 627, "width": 2869, "height": 1801}
                    ],
                    "inputImageProperties": {"width": 3911, "height": 2608},
                },
                "initialValueModified": True,
            },
            "submissionTime": "2020-05-01T18:24:53.742Z",
            "timeSpentInSeconds": 282.579,
            "workerId": "a12b3cdefg4h5i67",
            "workerMetadata": {
                "identityData": {
                    "identityProviderType": "Cognito",
                    "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_aaaaaaaaa",
                    "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                }
            },
        }
    ],
}

# "SageMaker A2I HumanLoop Status Change" on the default bus.
_STATUS_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "5a4e5a1b-1f4d-4f44-a4b8-2c5bd4e1a7a1",
    "source": "aws.sagemaker",
    "detail-type": "SageMaker A2I HumanLoop Status Change",
    "account": "111122223333",
    "time": "2020-05-01T18:24:55Z",
    "region": "us-east-1",
    "resources": ["arn:aws:sagemaker:us-east-1:111122223333:human-loop/LOOPNAME"],
    "detail": {
        "creationTime": "2020-05-01T18:08:47.000Z",
        "failureCode": None,
        "failureReason": None,
        "flowDefinitionArn": "arn:aws:sagemaker:us-east-1:111122223333:flow-definition/hitl-review",
        "humanLoopArn": "arn:aws:sagemaker:us-east-1:111122223333:human-loop/LOOPNAME",
        "humanLoopName": "LOOPNAME",
        "humanLoopOutput": {
            "outputS3Uri": "s3://review-output/a2i-output/hitl-review/2020/05/01/18/24/53/LOOPNAME/output.json"
        },
        "humanLoopStatus": "Completed",
    },
}

# Detector responses for one 640x480 image, in each adapter's shape.
_SAGEMAKER_RESPONSE: dict[str, Any] = {
    "prediction": [
        [1.0, 0.91, 0.1, 0.2, 0.5, 0.7],
        [0.0, 0.42, 0.6, 0.1, 0.9, 0.4],
    ]
}
_GLUONCV_RESPONSE: list[dict[str, Any]] = [
    {"id": "bicycle", "score": 0.91, "left": 64.0, "top": 96.0, "right": 320.0, "bottom": 336.0},
    {"id": "person", "score": 0.42, "left": 384.0, "top": 48.0, "right": 576.0, "bottom": 192.0},
]
_REKOGNITION_RESPONSE: dict[str, Any] = {
    "CustomLabels": [
        {
            "Name": "bicycle",
            "Confidence": 91.0,
            "Geometry": {"BoundingBox": {"Left": 0.1, "Top": 0.2, "Width": 0.4, "Height": 0.5}},
        },
        {"Name": "person", "Confidence": 42.0},
    ]
}


@pytest.fixture
def reference_manifest_line() -> dict[str, Any]:
    return copy.deepcopy(_MANIFEST_LINE)


@pytest.fixture
def a2i_output() -> dict[str, Any]:
    return copy.deepcopy(_OUTPUT_JSON)


@pytest.fixture
def a2i_status_event() -> dict[str, Any]:
    return copy.deepcopy(_STATUS_EVENT)


@pytest.fixture
def sagemaker_response() -> dict[str, Any]:
    return copy.deepcopy(_SAGEMAKER_RESPONSE)


@pytest.fixture
def gluoncv_response() -> list[dict[str, Any]]:
    return copy.deepcopy(_GLUONCV_RESPONSE)


@pytest.fixture
def rekognition_response() -> dict[str, Any]:
    return copy.deepcopy(_REKOGNITION_RESPONSE)
