"""The zhengai Dagster code location: settings, resources, checks, schedules and the CLI."""
