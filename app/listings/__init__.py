"""What demands (技术需求) and achievements (科技成果) share: columns, rules, statuses, queries.

Each side's own folder declares its table and schemas; the life cycle, permissions, history and
list queries are written once, here.
"""
