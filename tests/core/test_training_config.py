"""The `training` configuration section: defaults, checks and the derived hyperparameters."""

from __future__ import annotations

import pytest

from hitl_core.config import ConfigError, load_config
from hitl_core.training_config import DEFAULT_HYPERPARAMETERS


def training(**section):
    return load_config({"labels": ["cat"], "training": section}).training


def test_defaults_hold_a_usable_training_setup():
    settings = load_config({"labels": ["cat"]}).training
    assert settings.validation_fraction == 0.1
    assert settings.base_manifest is None
    assert settings.auto_approve is False
    assert settings.resources.wait_seconds is None
    assert settings.all_hyperparameters == DEFAULT_HYPERPARAMETERS


def test_configured_hyperparameters_overlay_the_defaults():
    settings = training(hyperparameters={"epochs": "5", "lr_scheduler_step": "3"})
    assert settings.all_hyperparameters["epochs"] == "5"
    assert settings.all_hyperparameters["lr_scheduler_step"] == "3"
    assert settings.all_hyperparameters["base_network"] == "resnet-50"


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"hyperparameters": {"num_classes": "3"}}, "training.hyperparameters: Value error, ['num_classes']"),
        ({"validation_fraction": 0.9}, "training.validation_fraction"),
        ({"base_manifest": "/tmp/x.manifest"}, "training.base_manifest"),
        ({"resources": {"max_wait_seconds": 7200}}, "max_wait_seconds goes with spot training"),
        ({"resources": {"spot": True, "max_wait_seconds": 600}}, "at least max_runtime_seconds"),
        ({"rekognition_project_arn": "arn:aws:s3:::x"}, "training.rekognition_project_arn"),
        ({"min_new_answers": 0}, "training.min_new_answers"),
    ],
)
def test_bad_training_settings_name_the_key(section, problem):
    with pytest.raises(
        ConfigError, match=r"^configuration: .*" + problem.replace("[", r"\[").replace("]", r"\]")
    ):
        training(**section)


def test_spot_training_waits_twice_the_runtime_unless_told():
    assert training(resources={"spot": True, "max_runtime_seconds": 3600}).resources.wait_seconds == 7200
    told = training(resources={"spot": True, "max_runtime_seconds": 3600, "max_wait_seconds": 4000})
    assert told.resources.wait_seconds == 4000
