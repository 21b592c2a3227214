"""Demands (技术需求): the enterprise side of the dual listing, the 企业技术需求榜单."""
