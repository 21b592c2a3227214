"""Brokerage (技术经纪): the broker's shortlist (对接清单) of demand–achievement pairs, contact records and match feedback."""
