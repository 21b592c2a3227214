"""Bodies of the import endpoints."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from app.sides import SideName

Mode = Literal["dry_run", "commit"]


class RowError(BaseModel):
    row: int = Field(description="the row number in the spreadsheet (the header is row 1 when it is the first line)")
    column: str = Field(description="the column header as written in the file; empty when the row as a whole is refused")
    reason: str


class ImportJobRead(BaseModel):
    """An import job (导入任务): where it stands and what it did to each row."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 17,
                    "side": "demands",
                    "mode": "commit",
                    "all_or_nothing": False,
                    "filename": "2026年度技术需求清单.xlsx",
                    "status": "done",
                    "message": "",
                    "total_rows": 120,
                    "processed_rows": 120,
                    "created": 112,
                    "updated": 4,
                    "skipped": 2,
                    "failed": 2,
                    "errors": [
                        {"row": 9, "column": "需求名称", "reason": "必填项缺失 / Field required"},
                        {
                            "row": 57,
                            "column": "揭榜截止日期",
                            "reason": "不是日期（例如 2027-06-30） / Input should be a valid date or datetime, input is too short",
                        },
                    ],
                    "notes": [
                        {
                            "row": 31,
                            "column": "状态",
                            "reason": "状态「已关闭」未导入：导入不改变记录状态，记录仍为「发布」 / "
                            "status closed ignored: an import does not change a published record's state",
                        }
                    ],
                    "ignored_columns": ["备注"],
                    "created_at": "2026-11-20T02:30:00Z",
                    "updated_at": "2026-11-20T02:30:41Z",
                    "progress": 1.0,
                }
            ]
        },
    )

    id: int
    side: SideName
    mode: Mode
    all_or_nothing: bool
    filename: str
    status: Literal["queued", "running", "done", "failed"]
    message: str = Field(description="why the job failed, if it did")
    total_rows: int | None = Field(description="data rows in the file, once counted")
    processed_rows: int
    created: int
    updated: int
    skipped: int = Field(description="rows whose record they name is unchanged (by 编号), or unchanged since their last import")
    failed: int
    errors: list[RowError] = Field(
        validation_alias="row_errors", description="every bad row, reason in Chinese then English (at most 10,000 entries with the notes)"
    )
    notes: list[RowError] = Field(
        validation_alias="row_notes", description="cells of imported rows that were not applied, e.g. a 状态 an import may not set"
    )
    ignored_columns: list[str] = Field(description="columns the importer does not know; their cells are not read")
    created_at: datetime
    updated_at: datetime

    @computed_field
    def progress(self) -> float:
        """Fraction of the rows processed, 0–1."""
        if self.status == "done":
            return 1.0
        return round(self.processed_rows / self.total_rows, 4) if self.total_rows else 0.0
