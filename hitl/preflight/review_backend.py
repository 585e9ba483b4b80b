"""Backend `a2i`: whether this account can use A2I at all, and its one private workforce against
`create_workforce` (SageMaker ListWorkteams / ListFlowDefinitions / ListHumanTaskUis / ListWorkforces)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from hitl.preflight.clients import ClientFactory, error_code
from hitl.preflight.deployment import Deployment
from hitl.preflight.result import CheckResult, failed, passed, warned
from infra.deploy_config import ExistingWorkTeam, PrivateWorkTeam

A2I_NAME = "a2i-availability"
WORKFORCE_NAME = "a2i-workforce"
WORK_TEAM_NAME = "a2i-work-team"
USE_BUILTIN = (
    "set hitl-deploy.review.backend to 'builtin' (the project's own review service works in every account)"
)


def _uses_a2i(deployment: Deployment) -> bool:
    return deployment.deploy.review.backend == "a2i"


def check_a2i_availability(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """A2I and Ground Truth are closed to new customers; an account that already has work teams,
    flow definitions, task UIs or a workforce here is an existing customer. An empty account cannot be told
    apart from a refused one without a create call, which preflight does not make."""
    if not _uses_a2i(deployment):
        return None
    sagemaker = clients("sagemaker")
    found = {
        "work teams": len(sagemaker.list_workteams(MaxResults=10)["Workteams"]),
        "flow definitions": len(sagemaker.list_flow_definitions(MaxResults=10)["FlowDefinitionSummaries"]),
        "task UIs": len(sagemaker.list_human_task_uis(MaxResults=10)["HumanTaskUiSummaries"]),
        "workforces": len(sagemaker.list_workforces(MaxResults=10)["Workforces"]),
    }
    present = ", ".join(
        f"{what}: {count}{'+' if count == 10 else ''}" for what, count in found.items() if count
    )
    if present:
        return passed(
            A2I_NAME, f"this account already uses A2I / Ground Truth in {deployment.region} ({present})"
        )
    return warned(
        A2I_NAME,
        f"no A2I work team, flow definition, task UI or workforce in {deployment.region}: whether AWS "
        "admits this account (A2I and Ground Truth are closed to new customers) cannot be known from a "
        "read-only call",
        f"confirm with AWS that the account may use A2I, or {USE_BUILTIN}",
    )


def check_workforce(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """One private workforce per account and region: `create_workforce` needs none, joining needs one."""
    team = deployment.deploy.work_team
    if not _uses_a2i(deployment) or not isinstance(team, PrivateWorkTeam):
        return None
    workforces = clients("sagemaker").list_workforces(MaxResults=10)["Workforces"]
    existing = workforces[0] if workforces else None
    pool = (existing or {}).get("CognitoConfig", {}).get("UserPool")
    if team.create_workforce:
        if existing is not None:
            return failed(
                WORKFORCE_NAME,
                f"workforce {existing['WorkforceName']} already exists in {deployment.region}, and "
                "create_workforce makes a second one, which SageMaker refuses "
                "(one private workforce per account and region)",
                "set hitl-deploy.work_team.create_workforce to false: the team joins the existing workforce",
            )
        return passed(WORKFORCE_NAME, f"no workforce in {deployment.region} yet; create_workforce makes one")
    if existing is None:
        if team.user_pool_id is not None:
            return passed(
                WORKFORCE_NAME,
                f"no workforce yet; the first work team makes one on user pool {team.user_pool_id}",
            )
        return failed(
            WORKFORCE_NAME,
            f"no private workforce in {deployment.region} for the work team to join",
            "set hitl-deploy.work_team.create_workforce to true, or give user_pool_id and app_client_id",
        )
    if pool is None:
        return failed(
            WORKFORCE_NAME,
            f"workforce {existing['WorkforceName']} signs in through OIDC, not Cognito; "
            "the stack's work team needs a Cognito user pool",
            "use an existing work team (work_team.mode 'existing' with its ARN)",
        )
    if team.user_pool_id is not None and team.user_pool_id != pool:
        return failed(
            WORKFORCE_NAME,
            f"workforce {existing['WorkforceName']} uses user pool {pool}, "
            f"not the configured {team.user_pool_id}",
            f"set hitl-deploy.work_team.user_pool_id to {pool} (and its app_client_id), or drop both",
        )
    return passed(WORKFORCE_NAME, f"the team joins workforce {existing['WorkforceName']} (user pool {pool})")


def check_existing_work_team(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """`work_team.mode: existing` names a team that must exist in this account and region."""
    team = deployment.deploy.work_team
    if not _uses_a2i(deployment) or not isinstance(team, ExistingWorkTeam):
        return None
    region, account = team.arn.split(":")[3:5]
    if (region, account) != (deployment.region, deployment.account):
        return failed(
            WORK_TEAM_NAME,
            f"work team {team.arn} is in {account}/{region}, "
            f"the deployment in {deployment.account}/{deployment.region}",
            "name a work team of the account and region you deploy to",
        )
    name = team.arn.rsplit("/", 1)[-1]
    try:
        found = clients("sagemaker").describe_workteam(WorkteamName=name)["Workteam"]
    except ClientError as err:
        if error_code(err) not in ("ResourceNotFound", "ValidationException"):
            raise
        return failed(WORK_TEAM_NAME, f"work team {name} does not exist", "fix hitl-deploy.work_team.arn")
    return passed(
        WORK_TEAM_NAME, f"work team {name} exists ({found.get('WorkforceArn', 'workforce unknown')})"
    )
