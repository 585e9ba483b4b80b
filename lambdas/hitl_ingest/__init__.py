"""The ingest function: scores every image dropped under the input prefix and routes it."""
