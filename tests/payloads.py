"""Valid request bodies for each side, to be varied by the tests."""

from datetime import date, timedelta


def demand(**overrides) -> dict:
    body = {
        "title": "新能源汽车冬季续航衰减问题",
        "description": "纯电动乘用车在-20℃环境下续航里程衰减超过40%，需要电池低温热管理方案。",
        "fields": ["automotive", "new_energy"],
        "keywords": ["续航衰减", "低温"],
        "reward": 2_000_000,
        "deadline": (date.today() + timedelta(days=90)).isoformat(),
        "cooperation_modes": ["development"],
        "region": "220104",
        "contact": {"name": "王工", "phone": "0431-85100000"},
    }
    body.update(overrides)
    return body


def achievement(**overrides) -> dict:
    body = {
        "title": "动力电池低温热管理与快速预热技术",
        "abstract": "研制了基于脉冲自加热与热泵耦合的电池热管理系统，-20℃下5分钟内升温至10℃。",
        "fields": ["new_energy"],
        "keywords": ["低温热管理"],
        "maturity": "pilot",
        "trl": 6,
        "patents": ["ZL201710601862.3"],
        "transfer_modes": ["licensing"],
        "price_min": 500_000,
        "price_max": 1_500_000,
        "team": {"lead": "李教授", "members": ["张博士"]},
        "institution": "吉林大学",
        "region": "220102",
    }
    body.update(overrides)
    return body


SIDES = {"demands": demand, "achievements": achievement}
TEXT_FIELD = {"demands": "description", "achievements": "abstract"}
