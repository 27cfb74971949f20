"""The four-step *Borgerens stemme* loop: a case per resident (listen, bring it to the
team), then deciding and trying (proposals, votes, trial actions, check-ins, evaluation),
and votes posted in the team's linked group chat."""
