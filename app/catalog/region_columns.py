"""The three region columns every located table carries, and the filter over them."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.catalog.regions import Region


class RegionColumns:
    """Mixin: the full code plus its province and city prefixes, each indexed."""

    region_code: Mapped[str | None] = mapped_column(String(6))
    region_province: Mapped[str | None] = mapped_column(String(2), index=True)
    region_city: Mapped[str | None] = mapped_column(String(4), index=True)

    def set_region(self, code: str | None) -> None:
        region = Region(code) if code else None
        self.region_code = code
        self.region_province = region.province if region else None
        self.region_city = region.city if region else None

    @classmethod
    def in_region(cls, region: Region):
        """SQL condition: located anywhere inside `region`, at whatever level it names."""
        if region.level == "province":
            return cls.region_province == region.province
        if region.level == "city":
            return cls.region_city == region.city
        return cls.region_code == region.code
