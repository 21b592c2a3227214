"""Proposals (揭榜方案): applications to a published demand, their review, the award and its milestones."""
