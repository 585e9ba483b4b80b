"""The built-in review service on the local stack: the same API, outbox and lifecycle handler code
the Lambdas run, behind a local stand-in for API Gateway's JWT authorizer and Cognito's sign-in."""
