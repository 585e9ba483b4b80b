"""`hitl preflight`: read-only checks of an AWS account against the deployment settings,
before `cdk deploy`."""
