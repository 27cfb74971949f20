"""What every flow runs on: the router engine, the input guard, texts, the command menu
and the pickers flows share."""
