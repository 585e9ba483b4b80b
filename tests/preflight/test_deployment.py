"""The bootstrap version the app requires, read from the synthesized cloud assembly."""

from __future__ import annotations

import json

from aws_cdk import DefaultStackSynthesizer

from hitl.preflight.deployment import DEFAULT_QUALIFIER, bootstrap_requirement

# The artifacts of `make synth`'s cdk.out/manifest.json (aws-cdk-lib 2.275), trimmed to what is read.
MANIFEST = {
    "version": "55.0.0",
    "artifacts": {
        "HitlPipeline.assets": {
            "type": "cdk:asset-manifest",
            "properties": {
                "file": "HitlPipeline.assets.json",
                "requiresBootstrapStackVersion": 6,
                "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version",
            },
        },
        "HitlPipeline": {
            "type": "aws:cloudformation:stack",
            "environment": "aws://unknown-account/unknown-region",
            "properties": {
                "templateFile": "HitlPipeline.template.json",
                "requiresBootstrapStackVersion": 6,
                "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version",
                # Only used for context lookups, which this app makes none of.
                "lookupRole": {
                    "requiresBootstrapStackVersion": 8,
                    "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version",
                },
            },
        },
        "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
    },
}


def write_manifest(folder, manifest):
    folder.mkdir(exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_the_synthesized_app_names_its_parameter_and_version(tmp_path):
    needs = bootstrap_requirement(write_manifest(tmp_path / "cdk.out", MANIFEST), {})
    assert (needs.parameter, needs.version) == ("/cdk-bootstrap/hnb659fds/version", 6)


def test_the_highest_requirement_of_the_deployed_artifacts_wins(tmp_path):
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["artifacts"]["HitlPipeline.assets"]["properties"]["requiresBootstrapStackVersion"] = 21
    assert bootstrap_requirement(write_manifest(tmp_path / "cdk.out", manifest), {}).version == 21


def test_without_a_synthesized_app_the_qualifier_comes_from_the_context(tmp_path):
    needs = bootstrap_requirement(tmp_path / "missing", {"@aws-cdk/core:bootstrapQualifier": "team42"})
    assert (needs.parameter, needs.version) == ("/cdk-bootstrap/team42/version", None)
    default = bootstrap_requirement(tmp_path / "missing", {})
    assert default.parameter == f"/cdk-bootstrap/{DEFAULT_QUALIFIER}/version"


def test_the_default_qualifier_is_cdks():
    assert DEFAULT_QUALIFIER == DefaultStackSynthesizer.DEFAULT_QUALIFIER
