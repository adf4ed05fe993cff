"""Items: the synthetic dataset, resource effects (created, updated and deleted items kept per
store) and the shape of what a create or update answers."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from patchbay.mocks.server._helpers import _partition, _typed_id, satisfy
from patchbay.mocks.server._options import _FRESH_BASE, Reply
from patchbay.mocks.server._state import _MockState
from patchbay.mocks.synthesis import from_pattern, rng_for, synthesize
from patchbay.mocks.vendor_errors import remove_path, set_path
from patchbay.runtime.http import MISSING, get_path, input_schema, match_holds, render
from patchbay.runtime.spec import (
    Action,
    ResourceEffect,
    resolve_schema,
    schema_at_path,
)


class _Resources(_MockState):
    def _collection(self, action: Action) -> tuple[str, bool]:
        """The collection template an action works on, and whether it names one item."""
        names = re.findall(r"\{([^{}]+)\}", action.path)
        if names and action.path.endswith("{" + names[-1] + "}"):
            return action.path[: action.path.rindex("/")], True
        return action.path, False

    def _item_action(self, collection: str) -> Action | None:
        """The action addressing one item of ``collection`` (``GET /customers/{id}``)."""
        items = [a for a in self.spec.actions if self._collection(a) == (collection, True)]
        return next((a for a in items if a.method == "GET"), items[0] if items else None)

    def _id_field(self, action: Action, schema: dict[str, Any] | None) -> str:
        names = re.findall(r"\{([^{}]+)\}", action.path)
        props = (schema or {}).get("properties", {})
        if names:
            last: str = names[-1]
            if last in props:
                return last
            if last.endswith("_number") and "number" in props:
                return "number"
        return "id"

    def _result_schema(self, action: Action) -> dict[str, Any] | None:
        output = action.output
        if not output.schema_:
            return None
        return schema_at_path(output.schema_, output.result_path, self.spec.defs)

    def _echo(self, schema: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, Any]:
        """Input values the resource keeps: only those its output schema allows as they are."""
        props = (schema or {}).get("properties", {})
        out = {}
        for key, value in data.items():
            sub = props.get(key)
            if isinstance(sub, dict):
                validator = Draft202012Validator({**sub, "$defs": self.spec.defs})
                if validator.is_valid(value):
                    out[key] = value
        return out

    def _drop_pointer(self, action: Action, envelope: dict[str, Any], path: str) -> None:
        """Remove a "next page" pointer on the last page the way vendors do: the whole optional
        block that carries it (HubSpot drops ``paging``), else just the pointer."""
        schema = resolve_schema(action.output.schema_, self.spec.defs)
        head = path.split(".", 1)[0].split("[", 1)[0]
        if "." in path and head not in schema.get("required", []):
            envelope.pop(head, None)
        else:
            remove_path(envelope, path)

    def _defuse(self, body: Any) -> Any:
        """Make a synthesized *success* body match none of the spec's error rules (a random
        ``success: false`` would make Pipedrive's client see an error)."""
        headers = httpx.Headers()
        for rule in self.spec.errors.rules:
            if not match_holds(rule.when, 200, headers, body):
                continue
            for cond in rule.when.body:
                if "equals" in cond.model_fields_set and isinstance(cond.equals, bool):
                    set_path(body, cond.path, not cond.equals)
                    break
                if cond.model_fields_set & {"equals", "in_", "exists"}:
                    remove_path(body, cond.path)
                    break
        return body

    def _wrap(self, action: Action, result: Any) -> Any:
        """Put a result back at the action's result path inside a synthesized envelope."""
        path = action.output.result_path
        if not path:
            return result
        envelope = self._synthesized(action.output.schema_, action.name)
        if not isinstance(envelope, dict):
            envelope = {}
        set_path(envelope, path, result)
        return envelope

    def _synthesized(self, schema: Any, key: str) -> Any:
        """Synthesized data for ``schema`` under ``key``: made once, then a fresh copy each time
        (a JSON round trip is the cheapest deep copy; callers mutate what they get)."""
        cache_key = (id(schema), key)
        text = self._synth_cache.get(cache_key)
        if text is None:
            value = synthesize(schema, self.spec.defs, rng_for(self.options.seed, key))
            text = self._synth_cache[cache_key] = json.dumps(value)
        return json.loads(text)

    def _rest(
        self, action: Action, path_params: dict[str, str], data: dict[str, Any], url: httpx.URL
    ) -> Reply:
        if action.output.format != "json":
            return Reply(200, {"Content-Type": "application/octet-stream"}, b"mock content")
        schema = self._result_schema(action)
        key = f"{action.name}:{url.path}"
        collection, is_item = self._collection(action)
        concrete = render(
            collection, {**self.options.variables, **path_params}, missing=lambda n: KeyError(n)
        )
        id_field = self._id_field(action, schema)
        store = self.store.setdefault(concrete, {})
        gone = self.deleted.setdefault(concrete, set())
        context = self._context(url, {**data, **path_params})
        if is_item:
            item_id = path_params[re.findall(r"\{([^{}]+)\}", action.path)[-1]]
            if item_id in gone:
                return self._error(
                    "not_found",
                    f"no such resource: {item_id}",
                    situation="not_found",
                    item_id=item_id,
                )
            current = store.get(item_id)
            if current is None and not self._known(action, collection, data, item_id, id_field):
                return self._error(
                    "not_found",
                    f"no such resource: {item_id}",
                    situation="not_found",
                    item_id=item_id,
                )
            if current is None:
                current = self._synthesized(schema, key) if schema else {}
                if isinstance(current, dict):
                    current[id_field] = _typed_id(item_id, schema, id_field)
                    self._apply_fields(action, current, {**context, "_id": item_id})
            if action.method == "DELETE":
                gone.add(item_id)
                store.pop(item_id, None)
                # Answer in the delete action's own shape (Stripe's {id, deleted: true}).
                receipt = self._synthesized(schema, key) if schema else {}
                if isinstance(receipt, dict):
                    receipt[id_field] = _typed_id(item_id, schema, id_field)
                return self._ok(action, self._wrap(action, receipt))
            if action.method in ("POST", "PUT", "PATCH") and isinstance(current, dict):
                current.update(self._echo(schema, data))
                store[item_id] = current
            return self._ok(action, self._wrap(action, current))
        result = self._synthesized(schema, key) if schema else {}
        item_action = self._item_action(collection)
        if action.method == "POST" and isinstance(result, dict) and schema:
            # The id lives where the item route reads it (GitHub's issue_number is "number").
            if item_action is not None:
                id_field = self._id_field(item_action, schema)
            number = self._issued[concrete] = self._issued.get(concrete, 0) + 1
            result.update(self._shape_new(action, schema, data))
            if id_field in schema.get("properties", {}) or item_action is not None:
                result[id_field] = self._fresh_id(schema, id_field, number, store)
                store[str(result[id_field])] = result
            self._apply_fields(action, result, {**context, "_id": result.get(id_field)})
        return self._ok(action, self._wrap(action, result))

    def _fresh_id(
        self, schema: dict[str, Any], id_field: str, number: int, taken: dict[str, Any]
    ) -> Any:
        """A new id never handed out before in this store, of the id's declared pattern."""
        sub = schema.get("properties", {}).get(id_field)
        sub = resolve_schema(sub, self.spec.defs) if isinstance(sub, dict) else {}
        if "pattern" in sub:
            # Numbered apart from the synthetic list items' ids (positions 1..records).
            made = from_pattern(sub["pattern"], _FRESH_BASE + number)
            if made is not None and re.search(sub["pattern"], made) and made not in taken:
                return made
            for attempt in range(20):
                value = synthesize(sub, self.spec.defs, rng_for(number, f"id:{attempt}"))
                if str(value) not in taken:
                    return value
        # Integer ids count on from the synthetic list items' (1..records).
        return _typed_id(f"mock_{number}", schema, id_field, self.options.records + number)

    def _known(
        self, action: Action, collection: str, data: dict[str, Any], item_id: str, id_key: str
    ) -> bool:
        """Whether an id the store never made exists at the vendor: always, unless the spec says
        unknown ids are not found; then only the ids the collection's list shows."""
        if action.mock is None or action.mock.unknown_ids != "not_found":
            return True
        lister = next(
            (
                a
                for a in self.spec.actions
                if a.method == "GET"
                and a.pagination is not None
                and self._collection(a) == (collection, False)
            ),
            None,
        )
        if lister is None:
            return False
        return item_id in self._synthetic_ids(lister, id_key)

    def _synthetic_ids(self, lister: Action, id_key: str) -> frozenset[str]:
        """The ids of a list action's synthetic items (made once: they depend on nothing else)."""
        key = (lister.name, id_key)
        found = self._known_ids.get(key)
        if found is None:
            items = self._dataset(lister, {})
            found = frozenset(str(i.get(id_key)) for i in items if isinstance(i, dict))
            self._known_ids[key] = found
        return found

    def _resource(
        self, action: Action, effect: ResourceEffect, data: dict[str, Any], url: httpx.URL
    ) -> Reply:
        """Create, read, change or delete one item of the resource the spec names: state for
        APIs whose paths do not show it (RPC methods, ids with a suffix). Items are found by id
        alone; the partitions they were created in (a channel, a board) only filter lists."""
        key = f"resource:{effect.name}"
        store = self.store.setdefault(key, {})
        gone = self.deleted.setdefault(key, set())
        schema = self._result_schema(action) or {}
        item_schema = schema_at_path(schema, effect.item_path, self.spec.defs) or {}
        item_schema = resolve_schema(item_schema, self.spec.defs)
        id_field = effect.id_field or effect.id or "id"
        if effect.op == "create":
            number = self._issued[key] = self._issued.get(key, len(store) + len(gone)) + 1
            item = self._synthesized(item_schema, f"{action.name}:{number}")
            item = item if isinstance(item, dict) else {}
            item.update(self._shape_new(action, item_schema, data))
            item[id_field] = self._new_id(effect, item_schema, number, store)
            self._apply_fields(action, item, self._context(url, data, {"_id": item[id_field]}))
            item_id = str(item[id_field])
            store[item_id] = item
            self.partitions[(key, item_id)] = _partition(effect, data)
        else:
            item_id = str(data.get(effect.id or "", ""))
            found = store.get(item_id)
            if item_id in gone or (
                found is None
                and action.mock is not None
                and action.mock.unknown_ids == "not_found"
                and not self._listed_id(effect, item_id)
            ):
                return self._error(
                    "not_found",
                    f"no such {effect.name}: {item_id}",
                    situation="not_found",
                    item_id=item_id,
                )
            if found is None:  # any id exists until deleted, as with REST paths
                found = self._synthesized(item_schema, f"{action.name}:{item_id}")
                found = found if isinstance(found, dict) else {}
                found[id_field] = _typed_id(item_id, item_schema, id_field)
            item = found
            if effect.op == "update":
                # Object fields merge (HubSpot's properties not sent keep their values).
                for name, value in self._shape_new(action, item_schema, data).items():
                    old = item.get(name)
                    item[name] = (
                        {**old, **value}
                        if isinstance(old, dict) and isinstance(value, dict)
                        else value
                    )
                store[item_id] = item
            elif effect.op == "delete":
                gone.add(item_id)
                store.pop(item_id, None)
        result: Any = item
        if effect.item_path or effect.op == "delete":
            # The item inside the response (Slack's message), or a delete's receipt; top-level
            # fields named like the id or a scope input carry their values (Slack's channel, ts).
            result = self._synthesized(schema, action.name)
            result = result if isinstance(result, dict) else {}
            if effect.item_path:
                set_path(result, effect.item_path, item)
            props = schema.get("properties", {})
            if id_field in props and id_field in item:
                result[id_field] = item[id_field]
            for name in effect.scope.values():
                if name in props and name in data:
                    result[name] = data[name]
        return self._ok(action, self._wrap(action, result))

    def _listed_id(self, effect: ResourceEffect, item_id: str) -> bool:
        """Whether the resource's list action shows an item with this id (a synthetic one)."""
        id_field = effect.id_field or effect.id or "id"
        for other in self.spec.actions:
            mine = other.resource
            if mine is not None and mine.name == effect.name and mine.op == "list":
                return item_id in self._synthetic_ids(other, id_field)
        return False

    def _new_id(
        self,
        effect: ResourceEffect,
        item_schema: dict[str, Any],
        number: int,
        taken: dict[str, Any],
    ) -> Any:
        """A fresh id valid where it will be used: the item's id field, or the input that names
        the item in a sibling action (Slack's ts looks like 1503435956.000247, a Twilio sid
        like SM + 32 hex digits)."""
        id_field = effect.id_field or effect.id or "id"
        sub = item_schema.get("properties", {}).get(id_field)
        sub = resolve_schema(sub, self.spec.defs) if isinstance(sub, dict) else {}
        if "pattern" not in sub and "format" not in sub:
            for other in self.spec.actions:
                mine = other.resource
                if mine is not None and mine.name == effect.name and mine.id is not None:
                    named = input_schema(other, self.spec.defs)["properties"].get(mine.id, {})
                    if "pattern" in named or "format" in named:
                        sub = resolve_schema(named, self.spec.defs)
                        break
        if "pattern" in sub or "format" in sub:
            for attempt in range(20):
                value = synthesize(sub, self.spec.defs, rng_for(number, f"id:{attempt}"))
                if str(value) not in taken:
                    return value
        return _typed_id(f"mock_{number}", item_schema, id_field, number)

    def _listed(self, effect: ResourceEffect, data: dict[str, Any]) -> list[Any]:
        """Stored items of a resource in the partition a list asks for."""
        key = f"resource:{effect.name}"
        wanted = _partition(effect, data)
        gone = self.deleted.get(key, set())
        out = []
        for item_id, item in self.store.get(key, {}).items():
            made_in = self.partitions.get((key, item_id), {})
            if item_id not in gone and all(
                made_in.get(part, value) == value for part, value in wanted.items()
            ):
                out.append(item)
        return out[::-1]  # newest first, as lists of new records usually are

    def _dataset(self, action: Action, data: dict[str, Any]) -> list[Any]:
        pag = action.pagination
        assert pag is not None
        items_schema = schema_at_path(action.output.schema_, pag.items_path, self.spec.defs)
        raw_item = (items_schema or {}).get("items", {})
        item_schema = resolve_schema(raw_item, self.spec.defs) if isinstance(raw_item, dict) else {}
        collection, _ = self._collection(action)
        item_action = self._item_action(collection)
        id_field = self._id_field(item_action, item_schema) if item_action is not None else "id"
        try:
            concrete = render(
                collection, {**self.options.variables, **{k: str(v) for k, v in data.items()}}
            )
        except KeyError:
            concrete = collection
        stored = [
            v
            for k, v in self.store.get(concrete, {}).items()
            if k not in self.deleted.get(concrete, set())
        ]
        if action.resource is not None:  # the spec says which resource this lists
            stored = self._listed(action.resource, data)
        # Records a trigger polls look like the ones it wants (GitHub issues, not pull requests):
        # synthesized fields a trigger's conditions exclude are left out, stored ones included.
        wanted = [c for t in self.spec.triggers.polling if t.action == action.name for c in t.where]
        if wanted:
            stored = [copy.deepcopy(v) for v in stored]
            for item in stored:
                if isinstance(item, dict):
                    satisfy(item, wanted)
        filters = action.mock.filters if action.mock else {}
        # An absent filter takes its documented default, as at the vendor (GitHub: state=open).
        defaults = {
            p.name: resolve_schema(p.schema_, self.spec.defs).get("default")
            for p in action.parameters
            if p.name in filters
        }
        asked = {
            name: data[name] if name in data else defaults.get(name)
            for name in filters
            if name in data or defaults.get(name) is not None
        }
        wanted_values = {
            path: asked[name]
            for name, path in filters.items()
            if name in asked and self._can_hold(item_schema, path, asked[name])
        }
        synthetic = []
        for n in range(self.options.records):
            item = self._synthesized(item_schema, f"{action.name}:{n}")
            if isinstance(item, dict) and id_field in item_schema.get("properties", {}):
                item[id_field] = self._listed_item_id(action, item_schema, id_field, n)
            if isinstance(item, dict):
                satisfy(item, wanted)
            synthetic.append(item)
        if wanted_values:
            # The vendor's filters: only items whose field equals what the list asked for.
            return [
                i
                for i in stored + synthetic
                if all(get_path(i, p, MISSING) == v for p, v in wanted_values.items())
            ]
        return stored + synthetic

    def _can_hold(self, item_schema: dict[str, Any], path: str, value: Any) -> bool:
        """Whether an item's field may take ``value``: a filter value outside the field's enum
        (GitHub's ``state=all``) selects everything, as the vendor's does."""
        sub = schema_at_path(item_schema, path, self.spec.defs)
        enum = resolve_schema(sub, self.spec.defs).get("enum") if isinstance(sub, dict) else None
        return not isinstance(enum, list) or value in enum

    def _listed_item_id(
        self, action: Action, item_schema: dict[str, Any], id_field: str, n: int
    ) -> Any:
        """A synthetic item's id: distinct per position, of the declared pattern if any."""
        key = (action.name, id_field, n)
        if key not in self._item_ids:
            self._item_ids[key] = self._make_item_id(item_schema, id_field, n)
        return self._item_ids[key]

    def _make_item_id(self, item_schema: dict[str, Any], id_field: str, n: int) -> Any:
        sub = item_schema.get("properties", {}).get(id_field)
        sub = resolve_schema(sub, self.spec.defs) if isinstance(sub, dict) else {}
        if "pattern" in sub:
            value = from_pattern(sub["pattern"], n + 1)
            if value is not None and re.search(sub["pattern"], value):
                return value
        return _typed_id(f"mock_item_{n}", item_schema, id_field, n + 1)

    def _ok(self, action: Action, body: Any, headers: dict[str, str] | None = None) -> Reply:
        """A success reply with the vendor's status for the action (201, 204, else 200)."""
        status = action.mock.status if action.mock and action.mock.status else 200
        if status == 204:
            return Reply(204, dict(headers or {}), b"")
        return self._json(status, self._defuse(body), headers)

    def _shape_new(
        self, action: Action, schema: dict[str, Any], data: dict[str, Any], *, initial: bool = True
    ) -> dict[str, Any]:
        """What a create keeps of its input: the fields named alike, the declared renames,
        list items expanded to the output's object shape, and the vendor's initial values."""
        kept = self._echo(schema, data)
        spec = action.mock
        if spec is None:
            return kept
        for name, path in spec.echo.items():
            if name in data:
                set_path(kept, path, data[name])
        props = schema.get("properties", {})
        for name, key in spec.expand.items():
            items = data.get(name)
            sub = props.get(name)
            if not isinstance(items, list) or not isinstance(sub, dict):
                continue
            item_schema = resolve_schema(sub, self.spec.defs).get("items", {})
            shaped = []
            for n, item in enumerate(items):
                if isinstance(item, dict):
                    shaped.append(item)
                    continue
                made = self._synthesized(item_schema, f"{action.name}:{name}:{n}")
                made = made if isinstance(made, dict) else {}
                made[key] = item
                shaped.append(made)
            kept[name] = shaped
        for path, value in spec.initial.items() if initial else ():
            set_path(kept, path, copy.deepcopy(value))
        return kept
