"""The retraining workflow's Lambda steps: dataset build, evaluation gate, run records, rollout."""
