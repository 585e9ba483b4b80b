"""The pipeline's domain core: pure Python, no AWS calls.

Shared by every Lambda function, the command line and the local stack.
"""
