"""Micro-moments: noting one in seconds (text or voice, markers), and browsing the team's
moments and a resident's card."""
