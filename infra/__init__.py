"""The CDK app's constructs: one concern a module, composed by `infra.stack`."""
