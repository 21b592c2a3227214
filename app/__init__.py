"""techmatch: the 揭榜挂帅 dual-listing service (技术需求 ⇄ 科技成果)."""
