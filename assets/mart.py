"""Mart layer: indicators, per-element warnings, school risk."""
