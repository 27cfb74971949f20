"""Team reflection meetings: planning them (with calendar files), the agenda built from
what the team noted, the minutes and decisions, and dilemmas brought to them."""
