"""Telegram wiring, the command line and the scheduler for stemme."""
