"""The Power BI hand-off beside the data, after a real refresh on the emulator (Dagster, SQLite, share copy):
`.pbids`, README and one typed M query per dataset in the output folder and in the share; the share's copy rule
on real files; `sf-assets powerbi`; `config check`'s mapped-drive warning."""

import json
import shutil

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.cli import main
from sf_assets.config import load_config
from sf_assets.defs.driver import execute_refresh
from sf_assets.pipeline.check_offline import check_offline
from sf_assets.powerbi.m_query import newest_ready_file
from sf_assets.powerbi.m_types import m_type
from sf_assets.publish.naming import READY_SUFFIX, ready_path
from sf_assets.storage.files import TEMP_FILE
from sf_assets_tests.pipeline_helpers import make_config, write_config

DATASETS = [
    {"name": "opportunity_account",
     "sql": "SELECT o.*, a.Name AS AccountName FROM Opportunity o LEFT JOIN Account a ON o.AccountId = a.Id"},
    {"name": "account", "sql": "SELECT * FROM Account"},  # an object's own output
]

EXPECTED = {  # a few columns' M types, written out (decimal(18, p) has 16+ integer digits: not a Fixed decimal)
    "opportunity_account": {"Id": "type text", "Amount": "type number", "CloseDate": "type date",
                            "IsWon": "type logical", "LastModifiedDate": "type datetimezone"},
    "account": {"AnnualRevenue": "type number", "BillingLatitude": "type number",
                "LastModifiedDate": "type datetimezone"},
}


def test_a_decimal_is_a_fixed_decimal_number_only_where_power_bi_keeps_it_exactly():
    assert [m_type(pa.field("c", t)) for t in (pa.decimal128(19, 4), pa.decimal128(16, 2), pa.decimal128(18, 2),
                                               pa.decimal128(10, 5), pa.int32(), pa.timestamp("us", tz="UTC"))] == [
        "Currency.Type", "Currency.Type", "type number", "type number", "Int64.Type", "type datetimezone"]


def _check_folder(folder, place, schemas):
    pbids = json.loads((folder / "sf_assets.pbids").read_text(encoding="utf-8"))
    assert pbids["version"] == "0.1" and len(pbids["connections"]) == 1
    assert pbids["connections"][0]["details"] == {"protocol": "folder", "address": {"path": str(folder)}}
    assert "credentials" not in json.dumps(pbids).lower()
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    assert all(word in readme for word in ("UTC", "DateTimeZone.SwitchZone", "health_check_", "UNC", "gateway"))
    assert "FolderPath" in (folder / "FolderPath.parameter.pq").read_text(encoding="utf-8")
    for name, schema in schemas.items():
        query = (folder / f"{name}.pq").read_text(encoding="utf-8")
        typed = query[query.index("Table.TransformColumnTypes"):]
        lines = [f'{{{json.dumps(f.name)}, {m_type(f)}}}' for f in schema]
        assert [typed.index(line) for line in lines] == sorted(typed.index(line) for line in lines)  # every column
        assert "FolderPath" in query and all(f"{{{json.dumps(c)}, {t}}}" in typed for c, t in EXPECTED[name].items())
        if place == "share":
            assert "Folder.Contents(FolderPath)" in query and f'Prefix = "{name}__"' in query
            assert f'List.Contains(Names, [Name] & "{READY_SUFFIX}")' in query
        else:
            assert f'"\\{name}\\{name}.parquet"' in query and READY_SUFFIX not in query
    assert not [p for p in folder.iterdir() if TEMP_FILE.search(p.name)]  # written via temp names, none left


def test_refresh_writes_the_handoff_beside_the_data_and_the_cli_prints_it(org, tmp_path, capsys):
    path = write_config(org, tmp_path, datasets=DATASETS, paths={"create_share_dir": True})
    config = load_config(path)
    assert main(["powerbi", "--config", str(path)]) == 1  # no output yet
    assert capsys.readouterr().err.startswith("sf-assets: no Power BI file of opportunity_account, account in ")

    with dg.instance_for_test() as instance:
        assert execute_refresh(config, instance).ok
    output, share = config.paths.output_dir, config.paths.share_dir
    schemas = {d["name"]: pq.read_schema(output / d["name"] / f"{d['name']}.parquet") for d in DATASETS}
    _check_folder(output, "output", schemas)
    _check_folder(share, "share", schemas)

    # The share's rule on real files (there is no M engine here: the Python twin of the M, same constants).
    published = newest_ready_file(share, "account")
    assert published is not None and published.name.startswith("account__") and ready_path(published).is_file()
    older = share / "account__20000101T000000Z__older.parquet"
    newer = share / "account__29991231T235959Z__newer.parquet"  # newest, but its copy is not complete yet
    for copy in (older, newer):
        shutil.copyfile(published, copy)
    ready_path(older).write_text("{}", encoding="utf-8")
    (share / "account_x__29991231T235959Z__other.parquet").write_bytes(b"")  # another dataset's name
    ready_path(share / "account_x__29991231T235959Z__other.parquet").write_text("{}", encoding="utf-8")
    assert newest_ready_file(share, "account") == published
    ready_path(newer).write_text("{}", encoding="utf-8")
    assert newest_ready_file(share, "account") == newer

    assert main(["powerbi", "account", "--share", "--config", str(path)]) == 0
    assert capsys.readouterr().out == (share / "account.pq").read_text(encoding="utf-8")
    assert main(["powerbi", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("// The parameter FolderPath ") and all(f"dataset {d['name']}," in out for d in DATASETS)
    assert main(["powerbi", "nope", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"sf-assets: unknown dataset 'nope': {path} has opportunity_account, account\n"


def test_config_check_warns_of_a_share_on_a_drive_letter(org, tmp_path):
    def warnings(share, **paths):
        config = make_config(org, tmp_path, paths={"share_dir": share, **paths})
        return [w for w in check_offline(config, env={}, plans=False).warnings if "share_dir" in w]

    assert warnings("S:/powerbi") == ["paths.share_dir S:/powerbi is a drive letter: the Power BI gateway runs as a "
                                      "service whose account does not see mapped drives; give the UNC path "
                                      "(\\\\server\\share\\...) instead"]
    assert warnings("\\\\server\\share\\powerbi") == []
    assert warnings("S:/powerbi", create_share_dir=True) == []  # declared a local folder
