"""Achievements (科技成果): the research side of the dual listing, the 高校科研院所成果转化榜单."""
