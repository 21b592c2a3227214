"""Every kind of notification, declared once: `notify` refuses any other, and the dispatch
settings (which kinds an organization turns off) read the ones it may turn off from here."""

KINDS: dict[str, str] = {
    "proposal_submitted": "需求收到新的揭榜申请",
    "proposal_shortlisted": "揭榜申请已入围",
    "proposal_rejected": "揭榜申请未通过",
    "proposal_awarded": "揭榜申请中榜",
    "proposal_not_selected": "揭榜申请未被选中",
    "milestone_reported": "里程碑已报告完成",
    "milestone_accepted": "里程碑已验收",
    "milestone_returned": "里程碑被退回",
    "milestone_due": "里程碑即将到期",
    "milestone_overdue": "里程碑已逾期",
    "demand_completed": "揭榜需求已验收通过",
    "demand_failed": "揭榜需求已判定失败",
    "demand_terminated": "揭榜需求已终止",
    "interest_received": "成果收到合作意向",
    "interest_accepted": "合作意向已被接受",
    "interest_declined": "合作意向已被婉拒",
    "broker_suggestion": "技术经纪人推荐的对接",
    "new_match": "新发布的记录与本机构的记录高度匹配（常态化调度）",
    "match_digest": "每日匹配摘要：批量导入及超出每日上限的匹配",
    "saved_search": "订阅检索的新结果",
}

# The kinds the standing matchmaking sends, each of which an organization may turn off.
DISPATCH_KINDS: tuple[str, ...] = ("new_match", "match_digest", "saved_search")
