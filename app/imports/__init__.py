"""Bulk import (批量导入) of demands and achievements from the spreadsheets offices keep."""
