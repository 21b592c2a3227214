"""Interest (意向) in a published achievement: the other direction of the 揭榜 workflow."""
