from pipelines.ingest.cli import *  # noqa: F401,F403  shim: `zhengai catalog` moved to pipelines/ingest/cli.py
