"""The data-quality engine (split in the next commit)."""
