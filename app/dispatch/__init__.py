"""Standing matchmaking (常态化调度): new matches reach the organizations they concern, unasked.

A worker follows the change log: each newly published (or re-worded) record is matched against
the other side, and every strong pair is announced once to the counterpart's owner and to the
brokers assigned to either organization; bulk imports and matches beyond a daily cap go into one
daily digest per organization. Saved searches run on their own schedule over what is new.
"""
