"""Psychological safety: the anonymous team pulse, its result and chart."""
