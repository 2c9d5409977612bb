"""The admin's forms: HTML form fields in, the API's JSON shape out, and the API's own
validation (``earning.policies.program_from_dict``, ``earning.rules.campaign_from_dict``)
for the errors. Nothing here decides what is valid; it only translates field names.

A ``RulesError`` names a path (``line_rules[2].multiplier``); ``input_name`` turns it into
the form input it belongs to (``line_rules-2-multiplier``) so the page shows it there.
The rules stop at the first error, so to show every error at once each independent part
(each top-level setting, each line rule, each action) is also checked on its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.http import QueryDict

from loyalty_app.earning.policies import BUILTIN_ACTIONS, EXPIRY_MODES, PERIODS, program_from_dict
from loyalty_app.earning.rules import MATCH_FIELDS, ROUNDINGS, RulesError, campaign_from_dict

_INT = re.compile(r"^[+-]?\d{1,18}$")
_ROW_PATH = re.compile(r"^(line_rules|actions)\[(\d+)\](?:\.(.+))?$")
_PATH_TO_INPUT = {
    "expiry": "expiry_mode",
    "expiry.mode": "expiry_mode",
    "expiry.months": "expiry_months",
    "expiry.reminder_days": "expiry_reminder_days",
    "points_name": "points_singular",
    "points_name.singular": "points_singular",
    "points_name.plural": "points_plural",
    "limit": "limit_count",
    "limit.count": "limit_count",
    "limit.period": "limit_period",
    "limit.per_target": "per_target",
    "exclude": "effect",
    "applies_to": "applies_to_value",
    "applies_to.field": "applies_to_field",
    "applies_to.value": "applies_to_value",
}
BLANK_ROWS = 2


def _text(post: Mapping[str, Any], name: str) -> str:
    return str(post.get(name, "") or "").strip()


def _int_or_raw(raw: str) -> int | str:
    """A whole number as an int (what the JSON API receives), anything else unchanged so
    the rules refuse it in their own words."""
    return int(raw) if _INT.match(raw) else raw


def _checked(post: Mapping[str, Any], name: str) -> bool:
    return _text(post, name) in {"on", "true", "1"}


def _row_indices(post: QueryDict | Mapping[str, Any], prefix: str) -> list[int]:
    found = set()
    for key in post:
        match = re.match(rf"^{prefix}-(\d{{1,3}})-", key)
        if match:
            found.add(int(match.group(1)))
    return sorted(found)


@dataclass
class FormErrors:
    """Errors by input name, in the order they were found, for the fields and the banner."""

    by_input: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.by_input.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.by_input)

    def get(self, name: str, default: str = "") -> str:
        return self.by_input.get(name, default)


# --- Program --------------------------------------------------------------------------


@dataclass
class ProgramForm:
    """The program page's fields as text, the rows of line rules and actions, and the
    JSON they make (``data``) with a map from its list positions back to form rows."""

    values: dict[str, Any]
    line_rules: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    data: dict[str, Any] = field(default_factory=dict)
    rule_rows: list[int] = field(default_factory=list)
    action_rows: list[int] = field(default_factory=list)
    errors: FormErrors = field(default_factory=FormErrors)

    rounding_choices = tuple(ROUNDINGS)
    match_fields = MATCH_FIELDS
    periods = PERIODS
    expiry_modes = EXPIRY_MODES
    builtin_actions = BUILTIN_ACTIONS

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ProgramForm:
        """The form filled with a program's JSON (``ProgramConfig.to_dict()``)."""
        expiry = config.get("expiry") or {}
        values = {
            "enabled": config.get("enabled", True),
            "points_per_unit": config.get("points_per_unit", "1"),
            "rounding": config.get("rounding", "down"),
            "min_order_amount": config.get("min_order_amount", "0"),
            "max_points_per_order": config.get("max_points_per_order") or "",
            "include_shipping": config.get("include_shipping", False),
            "include_tax": config.get("include_tax", False),
            "pending_days": config.get("pending_days", 0),
            "expiry_mode": expiry.get("mode", "off"),
            "expiry_months": expiry.get("months", 12),
            "expiry_reminder_days": expiry.get("reminder_days", 30),
            "points_singular": (config.get("points_name") or {}).get("singular", "point"),
            "points_plural": (config.get("points_name") or {}).get("plural", "points"),
        }
        rules = [
            {
                "field": r.get("field", ""),
                "value": r.get("value", ""),
                "effect": "exclude" if r.get("exclude") else "multiplier",
                "multiplier": r.get("multiplier") or "",
            }
            for r in config.get("line_rules", [])
        ]
        actions = [
            {
                "key": a.get("key", ""),
                "name": a.get("name", ""),
                "points": a.get("points", ""),
                "limit_count": (a.get("limit") or {}).get("count", ""),
                "limit_period": (a.get("limit") or {}).get("period", "lifetime"),
                "per_target": (a.get("limit") or {}).get("per_target", False),
                "enabled": a.get("enabled", True),
            }
            for a in config.get("actions", [])
        ]
        form = cls(values=values, line_rules=rules, actions=actions)
        form._pad()
        return form

    @classmethod
    def from_post(cls, post: QueryDict | Mapping[str, Any]) -> ProgramForm:
        values = {
            "enabled": _checked(post, "enabled"),
            "points_per_unit": _text(post, "points_per_unit"),
            "rounding": _text(post, "rounding"),
            "min_order_amount": _text(post, "min_order_amount"),
            "max_points_per_order": _text(post, "max_points_per_order"),
            "include_shipping": _checked(post, "include_shipping"),
            "include_tax": _checked(post, "include_tax"),
            "pending_days": _text(post, "pending_days"),
            "expiry_mode": _text(post, "expiry_mode"),
            "expiry_months": _text(post, "expiry_months"),
            "expiry_reminder_days": _text(post, "expiry_reminder_days"),
            "points_singular": _text(post, "points_singular"),
            "points_plural": _text(post, "points_plural"),
        }
        rules = [
            {
                "field": _text(post, f"line_rules-{i}-field"),
                "value": _text(post, f"line_rules-{i}-value"),
                "effect": _text(post, f"line_rules-{i}-effect") or "multiplier",
                "multiplier": _text(post, f"line_rules-{i}-multiplier"),
            }
            for i in _row_indices(post, "line_rules")
        ]
        actions = [
            {
                "key": _text(post, f"actions-{i}-key"),
                "name": _text(post, f"actions-{i}-name"),
                "points": _text(post, f"actions-{i}-points"),
                "limit_count": _text(post, f"actions-{i}-limit_count"),
                "limit_period": _text(post, f"actions-{i}-limit_period") or "lifetime",
                "per_target": _checked(post, f"actions-{i}-per_target"),
                "enabled": _checked(post, f"actions-{i}-enabled"),
            }
            for i in _row_indices(post, "actions")
        ]
        form = cls(values=values, line_rules=rules, actions=actions)
        form._build()
        return form

    def _pad(self) -> None:
        """Blank rows to add a rule or an action without script."""
        self.line_rules += [
            {"field": "sku", "value": "", "effect": "multiplier", "multiplier": ""}
            for _ in range(BLANK_ROWS)
        ]
        self.actions += [
            {
                "key": "",
                "name": "",
                "points": "",
                "limit_count": "",
                "limit_period": "lifetime",
                "per_target": False,
                "enabled": True,
            }
            for _ in range(BLANK_ROWS)
        ]

    def _build(self) -> None:
        v = self.values
        data: dict[str, Any] = {
            "points_per_unit": v["points_per_unit"],
            "rounding": v["rounding"],
            "include_shipping": v["include_shipping"],
            "include_tax": v["include_tax"],
            "max_points_per_order": (
                None if v["max_points_per_order"] == "" else _int_or_raw(v["max_points_per_order"])
            ),
        }
        if v["min_order_amount"] != "":
            data["min_order_amount"] = v["min_order_amount"]
        if v["pending_days"] != "":
            data["pending_days"] = _int_or_raw(v["pending_days"])
        expiry: dict[str, Any] = {"mode": v["expiry_mode"] or "off"}
        for name, key in (("months", "expiry_months"), ("reminder_days", "expiry_reminder_days")):
            if v[key] != "":
                expiry[name] = _int_or_raw(str(v[key]))
        data["expiry"] = expiry
        data["enabled"] = v["enabled"]
        # Both names blank: the default ("point"/"points"); one blank is an error.
        if v.get("points_singular", "") or v.get("points_plural", ""):
            data["points_name"] = {
                "singular": v.get("points_singular", ""),
                "plural": v.get("points_plural", ""),
            }
        rules, self.rule_rows = [], []
        for row, rule in enumerate(self.line_rules):
            if not rule["value"] and not rule["multiplier"]:
                continue  # an untouched blank row
            item: dict[str, Any] = {"field": rule["field"], "value": rule["value"]}
            if rule["effect"] == "exclude":
                item["exclude"] = True
            else:
                item["multiplier"] = rule["multiplier"]
            rules.append(item)
            self.rule_rows.append(row)
        data["line_rules"] = rules
        actions, self.action_rows = [], []
        for row, action in enumerate(self.actions):
            if not action["key"] and not action["points"] and not action["name"]:
                continue
            item = {
                "key": action["key"],
                "points": _int_or_raw(action["points"]) if action["points"] else None,
                "enabled": action["enabled"],
            }
            if action["name"]:
                item["name"] = action["name"]
            if action["limit_count"] != "":
                item["limit"] = {
                    "count": _int_or_raw(str(action["limit_count"])),
                    "period": action["limit_period"],
                    "per_target": action["per_target"],
                }
            actions.append(item)
            self.action_rows.append(row)
        data["actions"] = actions
        self.data = data

    def validate(self) -> bool:
        """Check every part with the program's rules; record each error at its input."""
        for key in ("line_rules", "actions"):
            for position, item in enumerate(self.data[key]):
                self._check({key: [item]}, {0: position})
        for key, value in self.data.items():
            if key not in ("line_rules", "actions"):
                self._check({key: value}, {})
        if not self.errors:
            self._check(self.data, None)
        return not self.errors

    def _check(self, data: dict[str, Any], positions: dict[int, int] | None) -> None:
        try:
            program_from_dict(data)
        except RulesError as exc:
            self.add_error(exc, positions)

    def add_error(self, exc: RulesError, positions: dict[int, int] | None = None) -> None:
        """Record a ``RulesError`` at its input; ``positions`` maps the index in the
        checked list to the index in ``data`` (for parts checked on their own)."""
        path = exc.field or "program"
        match = _ROW_PATH.match(path)
        if match:
            key, index, rest = match.group(1), int(match.group(2)), match.group(3) or ""
            if positions is not None:
                index = positions.get(index, index)
            rows = self.rule_rows if key == "line_rules" else self.action_rows
            row = rows[index] if index < len(rows) else index
            sub = _PATH_TO_INPUT.get(rest, rest) or ("value" if key == "line_rules" else "key")
            self.errors.add(f"{key}-{row}-{sub}", exc.message)
            return
        self.errors.add(_PATH_TO_INPUT.get(path, path), exc.message)

    def with_blank_rows(self) -> ProgramForm:
        self._pad()
        return self


# --- Campaigns ------------------------------------------------------------------------

# Values that pass the campaign rules, put in place of a field already found wrong so the
# rules go on to check the others.
_CAMPAIGN_STAND_INS: dict[str, Any] = {
    "name": "campaign",
    "multiplier": "2",
    "bonus_points": 1,
    "starts_at": "2000-01-01T00:00:00",
    "ends_at": "2100-01-01T00:00:00",
    "first_order_only": False,
    "applies_to": None,
    "tiers": None,
}


@dataclass
class CampaignForm:
    values: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)

    kinds = ("multiplier", "bonus")
    match_fields = MATCH_FIELDS

    @classmethod
    def from_definition(cls, definition: dict[str, Any] | None, zone: ZoneInfo) -> CampaignForm:
        d = definition or {}
        applies = d.get("applies_to") or {}
        return cls(
            values={
                "name": d.get("name", ""),
                "kind": d.get("kind", "multiplier"),
                "multiplier": d.get("multiplier") or "",
                "bonus_points": "" if d.get("bonus_points") is None else d["bonus_points"],
                "starts_at": _local_input(d.get("starts_at"), zone),
                "ends_at": _local_input(d.get("ends_at"), zone),
                "first_order_only": d.get("first_order_only", False),
                "applies_to_field": applies.get("field", ""),
                "applies_to_value": applies.get("value", ""),
                "tiers": ", ".join(d.get("tiers") or []),
            }
        )

    @classmethod
    def from_post(cls, post: Mapping[str, Any]) -> CampaignForm:
        values = {
            name: _text(post, name)
            for name in (
                "name",
                "kind",
                "multiplier",
                "bonus_points",
                "starts_at",
                "ends_at",
                "applies_to_field",
                "applies_to_value",
                "tiers",
            )
        }
        values["first_order_only"] = _checked(post, "first_order_only")
        v = values
        data: dict[str, Any] = {
            "name": v["name"],
            "kind": v["kind"],
            "starts_at": v["starts_at"] or None,
            "ends_at": v["ends_at"] or None,
            "first_order_only": v["first_order_only"],
        }
        if v["kind"] == "bonus":
            data["bonus_points"] = _int_or_raw(v["bonus_points"]) if v["bonus_points"] else None
        else:
            data["multiplier"] = v["multiplier"] or None
        if v["applies_to_value"] or v["applies_to_field"]:
            data["applies_to"] = {"field": v["applies_to_field"], "value": v["applies_to_value"]}
        tiers = [t.strip() for t in v["tiers"].split(",") if t.strip()]
        if tiers:
            data["tiers"] = tiers
        return cls(values=values, data=data)

    def validate(self, tz_name: str) -> bool:
        """The campaign rules, run again with a stand-in for each wrong field so that
        every wrong field is reported, not just the first."""
        data = dict(self.data)
        for _ in range(len(_CAMPAIGN_STAND_INS) + 2):
            try:
                campaign_from_dict(data, tz_name=tz_name)
                break
            except RulesError as exc:
                self.add_error(exc)
                top = (exc.field or "").split(".")[0]
                if top not in _CAMPAIGN_STAND_INS or data.get(top) == _CAMPAIGN_STAND_INS[top]:
                    break
                data[top] = _CAMPAIGN_STAND_INS[top]
        return not self.errors

    def add_error(self, exc: RulesError) -> None:
        path = exc.field or "campaign"
        self.errors.add(_PATH_TO_INPUT.get(path, path), exc.message)


def _local_input(value: str | None, zone: ZoneInfo) -> str:
    """A stored UTC instant as the shop's wall-clock time for a datetime-local input."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


# --- Tiers and cash-back --------------------------------------------------------------

_TIER_ROW_PATH = re.compile(r"^tiers\[(\d+)\](?:\.(.+))?$")
_TIER_SUBFIELDS = {
    "": "name",
    "entry_reward": "entry_points",
    "entry_reward.points": "entry_points",
    "entry_reward.reward_id": "entry_reward_id",
}
TIER_BLANK_ROWS = 1


def messages_by_input(
    message_dict: Mapping[str, Sequence[str]], row_map: Sequence[int] = ()
) -> FormErrors:
    """A ``ValidationError.message_dict`` of the tier or reward rules (paths such as
    ``tiers[1].threshold`` or ``cashback.rate``) as errors by input name."""
    errors = FormErrors()
    for path, messages in message_dict.items():
        message = messages[0] if messages else "is not valid"
        match = _TIER_ROW_PATH.match(path)
        if match:
            index, rest = int(match.group(1)), match.group(2) or ""
            row = row_map[index] if index < len(row_map) else index
            sub = _TIER_SUBFIELDS.get(rest, rest.split("[")[0].split(".")[0])
            errors.add(f"tiers-{row}-{sub}", message)
            continue
        name = path.replace("cashback.", "cashback_").split("[")[0]
        errors.add(name, message)
    return errors


def _decimal_text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass
class TierForm:
    """The Tiers page (metric, period, retention and the tiers in order) and the Cash-back
    page (program rate, delivery, each tier's own rate) over one tier definition: each
    page changes its own part and keeps the rest as stored."""

    values: dict[str, Any]
    tiers: list[dict[str, Any]]
    stored: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    rows: list[int] = field(default_factory=list)
    errors: FormErrors = field(default_factory=FormErrors)

    @classmethod
    def from_definition(cls, definition: dict[str, Any]) -> TierForm:
        cashback = definition.get("cashback") or {}
        values = {
            "metric": definition.get("metric", "points_earned"),
            "period": definition.get("period", "lifetime"),
            "retention": definition.get("retention", False),
            "cashback_enabled": cashback.get("enabled", False),
            "cashback_rate": cashback.get("rate", "0"),
            "cashback_delivery": cashback.get("delivery", "store_credit"),
        }
        tiers = []
        for tier in definition.get("tiers", []):
            entry = tier.get("entry_reward") or {}
            tiers.append(
                {
                    "name": tier.get("name", ""),
                    "threshold": tier.get("threshold", ""),
                    "earn_multiplier": tier.get("earn_multiplier", "1"),
                    "cashback_rate": _decimal_text(tier.get("cashback_rate")),
                    "entry_points": entry.get("points", ""),
                    "entry_reward_id": entry.get("reward_id", ""),
                    "perks": "\n".join(tier.get("perks", [])),
                    "customer_tag": tier.get("customer_tag", ""),
                }
            )
        form = cls(values=values, tiers=tiers, stored=definition)
        form.rows = list(range(len(tiers)))
        return form

    def with_blank_rows(self) -> TierForm:
        self.tiers += [
            {
                "name": "",
                "threshold": "",
                "earn_multiplier": "1",
                "cashback_rate": "",
                "entry_points": "",
                "entry_reward_id": "",
                "perks": "",
                "customer_tag": "",
            }
            for _ in range(TIER_BLANK_ROWS)
        ]
        return self

    @classmethod
    def tiers_from_post(cls, post: Mapping[str, Any], stored: dict[str, Any]) -> TierForm:
        """The Tiers page: rows in the order given by their ``order`` inputs (script moves
        rows and renumbers them; without script the merchant types the numbers); a row
        marked ``remove`` or left blank is dropped."""
        values = {
            "metric": _text(post, "metric"),
            "period": _text(post, "period"),
            "retention": _checked(post, "retention"),
        }
        indexed = []
        for i in _row_indices(post, "tiers"):
            row = {
                name: _text(post, f"tiers-{i}-{name}")
                for name in (
                    "name",
                    "threshold",
                    "earn_multiplier",
                    "cashback_rate",
                    "entry_points",
                    "entry_reward_id",
                    "perks",
                    "customer_tag",
                    "order",
                )
            }
            row["remove"] = _checked(post, f"tiers-{i}-remove")
            order = _int_or_raw(row["order"])
            indexed.append((order if isinstance(order, int) else 10**6 + i, i, row))
        indexed.sort(key=lambda item: (item[0], item[1]))
        rows = [row for _, _, row in indexed]
        form = cls(values=values, tiers=rows, stored=stored)
        money = values["metric"] == "amount_spent"
        tiers, form.rows = [], []
        for position, row in enumerate(rows):
            if row["remove"] or not (row["name"] or row["threshold"]):
                continue
            tier: dict[str, Any] = {
                "name": row["name"],
                "threshold": (row["threshold"] if money else _int_or_raw(row["threshold"]))
                if row["threshold"] != ""
                else None,
                "earn_multiplier": row["earn_multiplier"] or "1",
                "cashback_rate": row["cashback_rate"] or None,
                "perks": [p.strip() for p in row["perks"].splitlines() if p.strip()],
                "customer_tag": row["customer_tag"],
            }
            entry: dict[str, Any] = {}
            if row["entry_points"]:
                entry["points"] = _int_or_raw(row["entry_points"])
            if row["entry_reward_id"]:
                entry["reward_id"] = _int_or_raw(row["entry_reward_id"])
            tier["entry_reward"] = entry or None
            tiers.append(tier)
            form.rows.append(position)
        form.data = {
            "metric": values["metric"],
            "period": values["period"],
            "retention": values["retention"],
            "tiers": tiers,
            "cashback": stored.get("cashback") or {},
        }
        return form

    @classmethod
    def cashback_from_post(cls, post: Mapping[str, Any], stored: dict[str, Any]) -> TierForm:
        """The Cash-back page: the program's rate and delivery, and each stored tier's own
        rate (empty: the program's)."""
        form = cls.from_definition(stored)
        form.values.update(
            {
                "cashback_enabled": _checked(post, "cashback_enabled"),
                "cashback_rate": _text(post, "cashback_rate"),
                "cashback_delivery": _text(post, "cashback_delivery"),
            }
        )
        tiers = []
        for i, tier in enumerate(stored.get("tiers", [])):
            rate = _text(post, f"tiers-{i}-cashback_rate")
            form.tiers[i]["cashback_rate"] = rate
            tiers.append({**tier, "cashback_rate": rate or None})
        form.data = {
            **stored,
            "tiers": tiers,
            "cashback": {
                "enabled": form.values["cashback_enabled"],
                "rate": form.values["cashback_rate"] or "0",
                "delivery": form.values["cashback_delivery"],
            },
        }
        return form

    def set_errors(self, message_dict: Mapping[str, Sequence[str]]) -> None:
        self.errors = messages_by_input(message_dict, self.rows)


# --- Rewards ----------------------------------------------------------------------------

REWARD_INT_FIELDS = frozenset(
    {
        "points_cost",
        "per_customer_limit",
        "stock_total",
        "position",
        "code_valid_days",
        "points_per_step",
        "min_points",
        "max_points",
        "punch_count",
        "punch_reward_id",
    }
)
REWARD_BOOL_FIELDS = frozenset({"grant_only", "active", "return_points_if_unused"})


@dataclass
class RewardForm:
    """A reward's fields as text, and the API JSON they make: the common fields and those
    of the chosen kind only (the form shows the others hidden; they are not sent on)."""

    values: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)

    @classmethod
    def from_data(cls, data: dict[str, Any] | None, zone: ZoneInfo) -> RewardForm:
        d = dict(data or {"kind": "fixed_amount", "active": True, "position": 0})
        values: dict[str, Any] = {}
        for name, value in d.items():
            if name in ("active_from", "active_until"):
                values[name] = _local_input(value, zone)
            elif name == "collection_ids":
                values[name] = ", ".join(value or [])
            elif name in REWARD_BOOL_FIELDS:
                values[name] = bool(value)
            else:
                values[name] = "" if value is None else value
        return cls(values=values)

    @classmethod
    def from_post(
        cls,
        post: Mapping[str, Any],
        *,
        common: Sequence[str],
        kind_fields: Mapping[str, frozenset[str]],
    ) -> RewardForm:
        kind = _text(post, "kind")
        names = [*common, *sorted(kind_fields.get(kind, frozenset()))]
        values: dict[str, Any] = {}
        data: dict[str, Any] = {}
        for name in {*common, *(n for fields in kind_fields.values() for n in fields)}:
            if name in REWARD_BOOL_FIELDS:
                values[name] = _checked(post, name)
            else:
                values[name] = _text(post, name)
        for name in names:
            raw = values[name]
            if name in REWARD_BOOL_FIELDS:
                data[name] = raw
            elif name == "collection_ids":
                data[name] = [part.strip() for part in raw.split(",") if part.strip()]
            elif raw == "":
                data[name] = None if name not in ("title", "description", "kind") else raw
            elif name in REWARD_INT_FIELDS:
                data[name] = _int_or_raw(raw)
            else:
                data[name] = raw
        if data.get("position") is None:
            data["position"] = 0
        return cls(values=values, data=data)

    def set_errors(self, message_dict: Mapping[str, Sequence[str]]) -> None:
        errors = FormErrors()
        for path, messages in message_dict.items():
            errors.add(path.split("[")[0], messages[0] if messages else "is not valid")
        self.errors = errors
