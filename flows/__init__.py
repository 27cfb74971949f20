"""Conversation flows: one module per flow, each with a ``states`` table and a diagram."""
