"""Quality layer: completeness, validity and staleness of the raw data."""
