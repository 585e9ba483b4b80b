"""The local stack: the whole pipeline on one machine, with real parts, no AWS account."""
