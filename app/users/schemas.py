"""Request bodies for users: the invitation form and the command line share them."""

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.accounts.schemas import Role
from app.schemas import Id

MIN_PASSWORD = 10
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

def normalize_phone(value: str) -> str:
    """A mainland mobile number as 11 digits: spaces, dashes and a +86 prefix are dropped."""
    digits = re.sub(r"[\s\-()]", "", value)
    return digits.removeprefix("+86").removeprefix("0086")


def normalize_email(value: str) -> str:
    return value.strip().lower()


class UserCreate(BaseModel):
    """A person invited into one organization with one role; a phone number or an e-mail (or both) to sign in with."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    org_id: Id
    role: Role
    name: str = Field(min_length=1, max_length=100)
    email: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=20)
    password: str = Field(min_length=MIN_PASSWORD, max_length=200)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if not value:
            return None
        value = normalize_email(value)
        if not _EMAIL.match(value):
            raise ValueError("邮箱格式不正确 / not a valid e-mail address")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if not value:
            return None
        value = normalize_phone(value)
        if not _MOBILE.match(value):
            raise ValueError("手机号应为 11 位大陆手机号码 / a mainland mobile number of 11 digits")
        return value

    @model_validator(mode="after")
    def _one_identifier(self) -> "UserCreate":
        if not self.email and not self.phone:
            raise ValueError("手机号和邮箱至少填写一项 / give a phone number or an e-mail address to sign in with")
        return self
