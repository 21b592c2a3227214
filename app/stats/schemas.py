"""The body of GET /api/v1/stats as JSON: the numbers of `app.stats.service.compute`, nested by metric."""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class StatsFilters(BaseModel):
    """The filters the numbers were computed with (null: not filtered)."""

    region: str | None
    from_: date | None = Field(alias="from")
    to: date | None


class FieldCounts(BaseModel):
    total: int
    by_field: dict[str, int] = Field(description="records per field code; a record with two fields counts in both")


class SideCounts(BaseModel):
    demand: FieldCounts
    achievement: FieldCounts


class ProposalCounts(BaseModel):
    total: int
    demands_with_proposals: int
    per_demand_average: float | None = Field(description="null when no demand had a proposal")
    per_demand_distribution: dict[str, int] = Field(description="number of proposals → demands that received that many")


class AwardCounts(BaseModel):
    total: int
    amount: int = Field(description="yuan (元), the sum of the awarded pledges")
    average_days_to_award: float | None = Field(description="from the demand's publication to the award; null without awards")


class MatchCounts(BaseModel):
    """Brokered pairs created in the range, by how far they got."""

    suggested: int
    contacted: int
    negotiating: int
    signed: int
    dropped: int


class CountAmount(BaseModel):
    count: int
    amount: int = Field(description="yuan (元)")


class ContractCounts(BaseModel):
    total: CountAmount
    by_type: dict[str, CountAmount] = Field(description="per contract type: development, transfer, licensing, service, consulting")


class Stats(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "filters": {"region": "220000", "from": "2026-01-01", "to": "2026-12-31"},
                    "records_added": {
                        "demand": {
                            "total": 186,
                            "by_field": {"agri_corn_straw": 23, "automotive": 61, "bio_based_materials": 17, "new_energy": 48},
                        },
                        "achievement": {
                            "total": 412,
                            "by_field": {"agri_corn_straw": 35, "automotive": 88, "bio_based_materials": 41, "new_energy": 97},
                        },
                    },
                    "records_active": {
                        "demand": {
                            "total": 143,
                            "by_field": {"agri_corn_straw": 19, "automotive": 47, "bio_based_materials": 12, "new_energy": 39},
                        },
                        "achievement": {
                            "total": 398,
                            "by_field": {"agri_corn_straw": 33, "automotive": 85, "bio_based_materials": 40, "new_energy": 93},
                        },
                    },
                    "proposals": {
                        "total": 97,
                        "demands_with_proposals": 52,
                        "per_demand_average": 1.87,
                        "per_demand_distribution": {"1": 26, "2": 15, "3": 6, "4": 3, "5": 1, "6": 1},
                    },
                    "awards": {"total": 31, "amount": 68500000, "average_days_to_award": 74.5},
                    "matches": {"suggested": 240, "contacted": 118, "negotiating": 46, "signed": 19, "dropped": 63},
                    "contracts": {
                        "total": {"count": 27, "amount": 59300000},
                        "by_type": {
                            "development": {"count": 9, "amount": 21800000},
                            "transfer": {"count": 8, "amount": 24600000},
                            "licensing": {"count": 6, "amount": 11200000},
                            "service": {"count": 3, "amount": 1500000},
                            "consulting": {"count": 1, "amount": 200000},
                        },
                    },
                }
            ]
        }
    )

    filters: StatsFilters
    records_added: SideCounts = Field(description="records published in the range, by the region of the record")
    records_active: SideCounts = Field(description="records open at the end of the range")
    proposals: ProposalCounts = Field(description="揭榜方案 submitted in the range, by the region of their demand")
    awards: AwardCounts = Field(description="proposals awarded in the range")
    matches: MatchCounts
    contracts: ContractCounts = Field(description="technology contracts signed in the range")
