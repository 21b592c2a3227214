"""Statistics (统计): what the province reports, for any region and time range."""
