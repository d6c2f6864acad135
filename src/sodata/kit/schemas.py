"""Wire schemas: snake_case in Python, the spec's camelCase on the wire.

Naming per resource (as in full-stack-fastapi-template): `XPublic` is what the API
returns, `XCreate` / `XUpdate` what it accepts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, get_args

from pydantic import BaseModel, ConfigDict, PlainSerializer, model_validator
from pydantic.alias_generators import to_camel

from sodata.kit.errors import BadRequest


def iso_ms(value: datetime) -> str:
    """2021-03-23T14:52:40.552Z, the spec's timestamp format."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


Timestamp = Annotated[datetime, PlainSerializer(iso_ms, return_type=str)]


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        from_attributes=True,
        serialize_by_alias=True,
    )


NULL = {"type": "null"}


def _document_nulls(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The JSON schema says what `changes` does: a field that may not be null (its public
    model's field is not) is not nullable in the body either; it is left out to be kept."""
    assert issubclass(model, WriteModel)
    properties = schema.get("properties", {})
    for name, field in model.model_fields.items():
        found = properties.get(field.alias or name, properties.get(name))
        if found is None or NULL not in found.get("anyOf", ()) or model._nullable(name):
            continue
        options = [option for option in found.pop("anyOf") if option != NULL]
        found.update(options[0] if len(options) == 1 else {"anyOf": options})
        if "default" in found and found["default"] is None:
            del found["default"]


class WriteModel(CamelModel):
    """A request body. Unknown fields are refused (a typo must not be dropped silently),
    but the read-only fields of `read_only_from` are accepted and ignored, so a client may
    send back an object it just read."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_document_nulls)
    read_only_from: ClassVar[tuple[type[BaseModel], ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not cls.read_only_from:
            return data
        mine = {f.alias or n for n, f in cls.model_fields.items()} | set(cls.model_fields)
        read_only = {
            f.alias or n for m in cls.read_only_from for n, f in m.model_fields.items()
        } - mine
        return {k: v for k, v in data.items() if k not in read_only}

    def changes(self) -> dict[str, Any]:
        """The fields the client actually sent, by Python name (PUT is a partial update).

        A field sent as null is refused unless the public model allows null there."""
        sent = {name: getattr(self, name) for name in self.model_fields_set}
        for name, value in sent.items():
            if value is None and not self._nullable(name):
                raise BadRequest(
                    f"{type(self).model_fields[name].alias or name}: may not be null; omit it to leave it unchanged"
                )
        return sent

    @classmethod
    def _nullable(cls, name: str) -> bool:
        for public in cls.read_only_from:
            field = public.model_fields.get(name)
            if field is not None:
                return field.annotation is None or type(None) in get_args(field.annotation)
        return True
