"""Tests for citebot."""
