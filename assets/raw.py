"""Raw layer: ingested status-data exports, one table per platform table."""


def assets() -> list:
    return []
