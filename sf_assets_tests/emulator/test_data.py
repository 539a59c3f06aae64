"""Data generator: Ids, determinism, deleted rows, typed values and Bulk rendering."""
from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sf_assets.emulator import DataGenerator
from sf_assets.emulator.ids import checksum
from sf_assets.emulator.render import render_bulk, render_number
from sf_assets.emulator.values import decimal_array


def test_known_checksum() -> None:
    assert checksum("001A0000006Vm9r") == "IAC"


def test_ids_monotonic_valid_and_uneven() -> None:
    data = DataGenerator({"Account": 20000}, seed=3)
    ids = data.generate("Account", 0, 20000, ["Id"])["Id"].to_pylist()
    assert all(len(i) == 18 and i.startswith("001") for i in ids)
    assert all(a < b for a, b in zip(ids, ids[1:]))
    assert all(i[15:] == checksum(i[:15]) for i in ids)
    gaps = np.diff(DataGenerator({"Account": 200_000}).id_space("Account").numbers(np.arange(200_000)))
    assert gaps.min() == 1 and gaps.max() > 10**6  # dense regions and big gaps


def test_index_range_for_inverts_id_for() -> None:
    data = DataGenerator({"Opportunity": 50000})
    rng = random.Random(1)
    for _ in range(200):
        lo, hi = sorted(rng.sample(range(50000), 2))
        assert data.index_range_for("Opportunity", data.id_for("Opportunity", lo), data.id_for("Opportunity", hi)) == (
            lo,
            hi,
        )
    assert data.index_range_for("Opportunity", None, None) == (0, 50000)
    assert data.index_range_for("Opportunity", "000", "zzz") == (0, 50000)


def test_deterministic_and_deleted_fraction() -> None:
    a, b = DataGenerator(seed=11), DataGenerator(seed=11)
    assert a.generate("Contact", 100, 200).equals(b.generate("Contact", 100, 200))
    total = a.row_count("Opportunity", include_deleted=True)
    assert 0.01 < 1 - a.row_count("Opportunity") / total < 0.03


def test_typed_schema_covers_every_type() -> None:
    table = DataGenerator().generate("Widget__c", 0, 50)
    types = {str(t) for t in table.schema.types}
    for expected in ("string", "bool", "int64", "double", "decimal128(18, 2)", "date32[day]", "timestamp[ms, tz=UTC]",
                     "time32[ms]", "binary"):
        assert expected in types


def test_references_point_to_existing_rows() -> None:
    data = DataGenerator({"Account": 100, "Contact": 1000})
    contacts = data.generate("Contact", 0, 1000, ["AccountId", "Account.Name"]).to_pylist()
    accounts = dict(zip(*data.generate("Account", 0, 100, ["Id", "Name"]).to_pydict().values()))
    assert any(c["AccountId"] is None for c in contacts)
    for c in contacts:
        if c["AccountId"] is not None:
            assert accounts[c["AccountId"]] == c["Account.Name"]


def test_number_rendering_like_bulk_api() -> None:
    floats = pa.array([23.0, 0.5, 2.5e7, -4.25, None, 0.0, 1e7])
    assert render_number(floats).to_pylist() == ["23.0", "0.5", "2.5E7", "-4.25", None, "0.0", "1.0E7"]
    decimals = decimal_array(np.array([1234567890123456789, 2500, -100]), 2)
    assert render_number(decimals).to_pylist() == ["1.234567890123456789E16", "25.0", "-1.0"]
    values = decimal_array(np.random.default_rng(1).integers(-10**15, 10**15, 5000), 2)
    assert [Decimal(s) for s in render_number(values).to_pylist()] == values.to_pylist()


def test_doubles_render_like_java_double_to_string() -> None:
    values = [1e-15, 1e-4, 0.001, 2.5e7, 9.9e17, 9999999.0, 1e7, -0.0, 123456789012345.67, -1.2345e-5, None]
    assert render_bulk(pa.array(values)).to_pylist() == [
        "1.0E-15", "1.0E-4", "0.001", "2.5E7", "9.9E17", "9999999.0", "1.0E7", "-0.0", "1.2345678901234567E14",
        "-1.2345E-5", None]
    wide = DataGenerator({"Widget__c": 5000}).generate("Widget__c", 0, 5000, ["Ratio__c"]).column(0).combine_chunks()
    text = render_bulk(wide)
    assert pc.cast(text, pa.float64()).equals(wide)  # what Bulk writes reads back as the same double
    assert {"1.0E-15", "9.9E17", "1.0E-4", "2.5E7"} <= set(text.to_pylist())


def test_temporal_rendering() -> None:
    ts = pa.array([1727148367000, None], pa.timestamp("ms", tz="UTC"))
    assert render_bulk(ts).to_pylist() == ["2024-09-24T03:26:07.000Z", None]
    assert render_bulk(pa.array([19990], pa.date32())).to_pylist() == ["2024-09-24"]
    assert render_bulk(pa.array([12367000], pa.time32("ms"))).to_pylist() == ["03:26:07.000Z"]
    assert render_bulk(pa.array([True, False])).to_pylist() == ["true", "false"]
    edges = pa.array([-8520336000000, -1, 951825600001, 64092211199999], pa.timestamp("ms", tz="UTC"))
    assert render_bulk(edges).to_pylist() == ["1700-01-01T00:00:00.000Z", "1969-12-31T23:59:59.999Z",
                                              "2000-02-29T12:00:00.001Z", "4000-12-31T23:59:59.999Z"]
    assert render_bulk(pa.array([-98615, 741807], pa.date32())).to_pylist() == ["1700-01-01", "4000-12-31"]
