"""The closed code lists of the two 榜单. Codes are stable English ids; labels are what offices write.

Input accepts either the code or its Chinese label (an office clerk types "技术转让", a script
sends "transfer"); storage and output always use the code.
"""

FIELDS: dict[str, str] = {
    "automotive": "汽车及零部件",
    "rail": "轨道交通装备",
    "petrochemical": "石化/化工",
    "pharma_health": "医药健康",
    "optoelectronics": "光电子/精密仪器",
    "electronics_semiconductor": "电子信息/半导体",
    "new_materials": "碳纤维及新材料",
    "new_energy": "新能源/氢能",
    "ai_digital": "人工智能与数字经济",
    "agriculture": "现代农业",
    "agri_black_soil": "黑土地保护",
    "agri_corn_straw": "玉米/秸秆",
    "agri_beef_cattle": "肉牛",
    "agri_sika_deer": "梅花鹿",
    "agri_seed": "种业",
    "ice_snow_tourism": "冰雪/文旅",
    "bio_based_materials": "生物基材料",
    "other": "其他",
}

COOPERATION_MODES: dict[str, str] = {
    "development": "技术开发",
    "transfer": "技术转让",
    "licensing": "技术许可",
    "service": "技术服务",
    "consulting": "技术咨询",
    "equity": "作价入股",
    "joint_development": "合作开发",
}

# Ordered from the lab bench to the factory floor.
MATURITY: dict[str, str] = {
    "lab": "实验室",
    "small_pilot": "小试",
    "pilot": "中试",
    "industrial": "产业化",
}

ORGANIZATION_KINDS: dict[str, str] = {
    "enterprise": "企业",
    "university": "高校",
    "institute": "科研院所",
    "broker_agency": "技术转移/经纪机构",
    "government": "政府部门",
}


def to_code(value: str, codes: dict[str, str]) -> str | None:
    """The code for `value` given as a code or as its label; None when it is neither."""
    value = value.strip()
    if value in codes:
        return value
    for code, label in codes.items():
        if value == label:
            return code
    return None
