"""Conversation flows, grouped by capability: one room per part of the work.

- ``core``: the router engine every flow runs in, the input guard, texts, the command menu
  and small pickers shared by flows.
- ``team``: joining, the team and its members, residents, team settings, the
  administrators' overview, and each member's rhythm (shifts, handover, mute, absence, focus).
- ``moments``: noting a micro-moment, and browsing the moments and the resident's card.
- ``loop``: the four-step *Borgerens stemme* loop: cases (listen, bring to the team) and
  decisions (proposals, votes, trial actions, check-ins, evaluation), votes in group chats.
- ``meetings``: reflection meetings (planning, calendar files), their agenda and minutes,
  and dilemmas brought to them.
- ``safety``: the psychological safety pulse and its chart.
- ``privacy``: what stemme stores, the audit log, erasure, and the access report.
- ``programme``: the course (forløb) of three dialogue meetings, and the site's leadership
  team with its own trial action.

Each flow module exposes ``build_flow()`` with a ``states={...}`` table; ``bot.app``
registers them all explicitly. Flows never import ``bot``; they call ``storage`` for data.
"""
