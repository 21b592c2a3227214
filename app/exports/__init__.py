"""Exports (导出) of the two lists and the annual 清单, as files an office can open."""
