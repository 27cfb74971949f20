"""The team and its people: joining by invite, members and switching team, residents by
alias, team settings, the administrators' overview, and each member's rhythm."""
