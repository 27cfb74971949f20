"""Persistence for stemme: SQLModel tables and every query.

Nothing in this package imports ``telegram``; flows call the functions in the
modules here and never build SQL themselves.
"""
