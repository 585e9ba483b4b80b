"""Whether `cdk bootstrap` ran in this account and region, at the version the synthesized app needs."""

from __future__ import annotations

from botocore.exceptions import ClientError

from hitl.preflight.clients import ClientFactory, error_code, is_access_denied
from hitl.preflight.deployment import Deployment
from hitl.preflight.result import CheckResult, failed, passed, warned

NAME = "cdk-bootstrap"
TOOLKIT_STACK = "CDKToolkit"
TOOLKIT_OUTPUT = "BootstrapVersion"


def _found_version(deployment: Deployment, clients: ClientFactory) -> tuple[int | None, str]:
    """The bootstrapped version (None: not bootstrapped) and where it was read."""
    parameter = deployment.bootstrap.parameter
    try:
        value = clients("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
        return int(value), f"SSM parameter {parameter}"
    except ClientError as err:
        if error_code(err) == "ParameterNotFound":
            return None, f"SSM parameter {parameter}"
        if not is_access_denied(err):
            raise
    # The parameter could not be read: the toolkit stack's output says the same.
    try:
        stacks = clients("cloudformation").describe_stacks(StackName=TOOLKIT_STACK)["Stacks"]
    except ClientError as err:
        if error_code(err) == "ValidationError":  # "Stack with id CDKToolkit does not exist"
            return None, f"stack {TOOLKIT_STACK}"
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    version = outputs.get(TOOLKIT_OUTPUT)
    return (int(version) if version is not None else None), f"stack {TOOLKIT_STACK} output {TOOLKIT_OUTPUT}"


def check_bootstrap(deployment: Deployment, clients: ClientFactory) -> CheckResult:
    """Fail when not bootstrapped or older than required; warn when no synthesized app says what it needs."""
    where = f"aws://{deployment.account}/{deployment.region}"
    bootstrap_command = f"npx cdk bootstrap {where}"
    found, source = _found_version(deployment, clients)
    required = deployment.bootstrap.version
    if found is None:
        return failed(NAME, f"{where} is not bootstrapped ({source} not found)", f"run `{bootstrap_command}`")
    if required is None:
        return warned(
            NAME,
            f"bootstrap version {found} ({source}); no synthesized app to compare with",
            "run `make synth` first, so preflight reads the version the app requires from cdk.out",
        )
    if found < required:
        return failed(
            NAME,
            f"bootstrap version {found} ({source}) is older than the {required} the app requires",
            f"run `{bootstrap_command}` to upgrade the bootstrap stack",
        )
    return passed(NAME, f"bootstrap version {found} ({source}); the app requires {required}")
