"""Where SageMaker's built-in object-detection image lives in each region: the stack hosts it and
the retraining workflow trains with it, from this one map."""

from __future__ import annotations

# Registry accounts of SageMaker's built-in object-detection image (repository object-detection, tag 1).
OBJECT_DETECTION_REGISTRIES = {
    "af-south-1": "455444449433",
    "ap-east-1": "286214385809",
    "ap-northeast-1": "501404015308",
    "ap-northeast-2": "306986355934",
    "ap-northeast-3": "364406365360",
    "ap-south-1": "991648021394",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "544295431143",
    "ca-central-1": "469771592824",
    "cn-north-1": "390948362332",
    "cn-northwest-1": "387376663083",
    "eu-central-1": "813361260812",
    "eu-north-1": "669576153137",
    "eu-south-1": "257386234256",
    "eu-west-1": "685385470294",
    "eu-west-2": "644912444149",
    "eu-west-3": "749696950732",
    "me-south-1": "249704162688",
    "sa-east-1": "855470959533",
    "us-east-1": "811284229777",
    "us-east-2": "825641698319",
    "us-gov-west-1": "226302683700",
    "us-west-1": "632365934929",
    "us-west-2": "433757028032",
}
BUILT_IN_REPOSITORY = "object-detection"
BUILT_IN_TAG = "1"


def object_detection_image(region: str) -> str:
    """The built-in object-detection image URI in `region`; ValueError for a region without one."""
    account = OBJECT_DETECTION_REGISTRIES.get(region)
    if account is None:
        raise ValueError(f"SageMaker's built-in object-detection image is not offered in {region}")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}/{BUILT_IN_REPOSITORY}:{BUILT_IN_TAG}"
