#!/usr/bin/env python3
"""Writes the golden files of the care-plan codec (run from this directory).

The files are written from docs/domain/careplan-csv.md by hand-built rows and encoded with Python's cp932
codec (Microsoft's MS932 table), independently of the Rust encoder. valid/ holds one valid file
per form (v4.1, CSVバージョン 202407, plus a v3.2 / 202208 file); style/ holds valid files in a
non-canonical style (LF, no final newline, quoted codes, zero-padded numbers, a header line);
invalid/<case>/ holds one bad file and expected.txt, one issue per line: "SEVERITY LINE:COLUMN CODE".
"""
import os
import shutil

CARE = "1370000018"      # 居宅介護支援事業所 (check digit valid), service type 43
PROV = "1370000026"      # 訪問介護事業所, service type 11
PROV2 = "1370000034"     # 福祉用具貸与事業所, service type 17
SEQ = "20250425103000"
V4 = "202407"

FREE = {
    "UPHOSOKU": {5, 6, 10, 11},
    "UP1KYO": {6, 7, 8, 9, 11, 12, 22, 23, 24, 26},
    "DLT1KYO": set(),
    "UP2KYO": {7, 9, 10, 11, 12, 14, 16, 18, 19, 20},
    "UP3KYO": {6, 10, 13},
    "UPPLAN": {7, 18, 21},
    "UPJSK": {7, 18, 21},
    "DLTPLAN": set(),
    "DLTJSK": set(),
    "UPSIKYU": {6, 12},
}
COLS = {"UPHOSOKU": 63, "UP1KYO": 28, "DLT1KYO": 4, "UP2KYO": 22, "UP3KYO": 13, "UPPLAN": 25,
        "UPJSK": 25, "DLTPLAN": 4, "DLTJSK": 6, "UPSIKYU": 37}


def line(form, values, ncols=None, omit=()):
    """One record: values maps column No. to text; free text is quoted with "" doubled."""
    n = COLS[form]
    out = []
    for no in range(1, n + 1):
        if no in omit:
            continue
        v = values.get(no, "")
        if no in FREE[form] and v != "":
            v = '"' + v.replace('"', '""') + '"'
        out.append(v)
    if ncols is not None:
        out = out[:ncols] if ncols < len(out) else out + [""] * (ncols - len(out))
    return ",".join(out)


def person(insurer, insured, extra):
    d = {1: V4, 2: insurer, 3: insured}
    d.update(extra)
    return d


def supplement(month, plan_date):
    rows = []
    for insurer, insured, kana, name, sex, birth in [
        ("435073", "0000000001", "ヤマダ　タロウ", "山田　太郎", "1", "19400105"),
        ("122192", "H123456789", "スズキ　ハナコ", "鈴木　花子", "2", "19381231"),
    ]:
        rows.append(line("UPHOSOKU", person(insurer, insured, {
            4: plan_date, 5: kana, 6: name, 7: sex, 8: birth, 9: "868-0701", 10: "熊本県球磨郡水上村岩野",
            11: "１－２－３　髙﨑荘", 12: "0966-44-0311", 13: "20250301", 14: "20250401", 15: "20260331",
            16: "2", 17: "20250301", 18: "22", 19: "19705", 20: "11", 21: "10000", 22: "8000", 23: "0",
            24: "17", 25: "3000", 26: "1200", 27: "0", 56: "0", 59: "21", 60: CARE, 61: CARE, 63: month,
        })))
    return rows


def plan1():
    return [line("UP1KYO", person("435073", "0000000001", {
        4: "20250420", 5: "868-0701", 6: "熊本県球磨郡水上村", 7: "岩野１番地", 8: "介護　支援子",
        9: "みずかみ居宅介護支援センター", 10: "868-0701", 11: "熊本県球磨郡水上村", 12: "湯山２番地",
        13: CARE, 14: "20250420", 15: "20230401", 16: "21", 17: "2", 18: "20250301", 19: "20250401",
        20: "20260331", 21: "22",
        22: "本人：「自宅で、できるだけ長く暮らしたい」\r\n家族：通院の付き添い、見守りを希望",
        23: "特になし", 24: "週３回の訪問介護で、入浴・掃除を支援する。\r\n緊急時は長男（０９０）へ連絡",
        25: "1", 27: CARE,
    })), line("UP1KYO", person("122192", "H123456789", {
        4: "20250418", 8: "介護　支援子", 9: "みずかみ居宅介護支援センター", 13: CARE, 14: "20250418",
        15: "20250418", 16: "11", 17: "1", 21: "21", 24: "転倒予防を第一に、通所介護を利用する", 26: "",
    }))]


def plan2():
    base = lambda extra: person("435073", "0000000001", {4: "20250420", 5: "20250420", **extra})
    return [
        line("UP2KYO", base({6: "1", 7: "一人で入浴ができない", 8: "1", 9: "安全に入浴できる", 10: "週３回入浴する",
                              11: "2025/05～2026/03", 12: "2025/05～2025/09", 13: "1", 14: "入浴介助",
                              15: "Y", 16: "訪問介護", 17: PROV, 18: "みずかみヘルパーステーション", 19: "週３回",
                              20: "2025/05～2025/09", 21: CARE})),
        # The same need and goal: the print image leaves them blank on the next row.
        line("UP2KYO", base({6: "1", 8: "1", 13: "2", 14: "見守り（家族）", 16: "家族", 19: "毎日",
                              20: "2025/05～2025/09", 21: CARE})),
        line("UP2KYO", base({6: "2", 7: "転倒の不安", 8: "1", 9: "転ばずに歩ける", 10: "手すりを使い移動する",
                              13: "1", 14: "手すり貸与", 15: "Y", 16: "福祉用具貸与", 17: PROV2,
                              18: "球磨福祉用具", 19: "随時", 20: "2025/05～2025/09", 21: CARE})),
    ]


def plan3():
    base = lambda extra: person("435073", "0000000001", {4: "20250420", 5: "20250420", **extra})
    return [
        line("UP3KYO", base({6: "訪問介護（入浴介助）", 7: "1", 8: "1000", 9: "1100"})),
        line("UP3KYO", base({6: "訪問介護（入浴介助）", 7: "3", 8: "1000", 9: "1100"})),
        line("UP3KYO", base({10: "起床", 11: "0630", 12: "0700"})),
        line("UP3KYO", base({13: "通院（月１回、家族付き添い）"})),
    ]


def usage(month="202505", version=V4, omit=()):
    rows = []
    def r(insurer, insured, date, start, end, code, prov, extra=None):
        d = {1: version, 2: insurer, 3: insured, 4: "20250425", 5: month, 6: CARE, 7: "介護　支援子",
             8: "387", 9: "0", 10: date, 12: start, 13: end, 14: "1", 15: code, 20: prov,
             21: "みずかみヘルパーステーション", 23: "0", 24: CARE}
        d.update(extra or {})
        rows.append(line("UPPLAN", d, omit=omit))
    y, m = month[:4], month[4:]
    r("435073", "0000000001", f"{y}{m}05", "1000", "1100", "111211", PROV)
    r("435073", "0000000001", f"{y}{m}07", "1000", "1100", "111211", PROV)
    if not omit:
        r("435073", "0000000001", f"{y}{m}01", "9999", "9999", "171001", PROV2,
          {8: "300", 11: "1111111111111111111111111111111", 16: "00001-000010", 18: "手すり　ＡＢ－１",
           19: "1", 21: "球磨福祉用具"})
    r("122192", "H123456789", f"{y}{m}10", "0900", "0930", "111111", PROV, {8: "-25"})
    return rows


def annex(month="202505"):
    rows = []
    def r(insurer, insured, prov, code, units, extra=None):
        d = {1: V4, 2: insurer, 3: insured, 4: "20250425", 5: month, 6: "みずかみヘルパーステーション",
             7: prov, 9: code, 13: units, 33: "0", 36: CARE}
        d.update(extra or {})
        rows.append(line("UPSIKYU", d))
    r("435073", "0000000001", PROV, "111211", "387", {14: "100", 15: "387", 16: "2", 17: "774", 18: "774",
      20: "774", 22: "774", 23: "10.21", 24: "7902", 25: "90", 26: "7111", 28: "791"})
    r("435073", "0000000001", PROV2, "171001", "300", {6: "球磨福祉用具", 10: "00001-000010", 12: "手すり　ＡＢ－１",
      16: "1", 17: "300", 18: "300", 22: "300", 23: "10.00"})
    r("435073", "0000000001", PROV, "11AAAA", "0", {18: "774"})
    r("435073", "0000000001", "9999999999", "999999", "0", {6: "", 18: "1074", 24: "10902", 34: "9999999999"})
    r("122192", "H123456789", PROV, "111111", "-25", {16: "1"})
    r("122192", "H123456789", "9999999999", "999999", "0", {6: ""})
    return rows


def write(path, rows, ending="\r\n", final=True, encoding="cp932", raw_tail=b""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = ending.join(rows) + (ending if final else "")
    with open(path, "wb") as f:
        f.write(text.encode(encoding) + raw_tail)


def name(prefix, month=None, src=(CARE, "43"), dst=(PROV, "11"), seq=SEQ):
    parts = [prefix] + ([month] if month else []) + [src[0], src[1], dst[0], dst[1], seq]
    return "_".join(parts) + ".CSV"


def main():
    for d in ["valid", "style", "invalid"]:
        shutil.rmtree(d, ignore_errors=True)
    v = lambda n: os.path.join("valid", n)
    write(v(name("UPHOSOKU", "000000")), supplement("000000", "20250420"))
    write(v(name("UPHOSOKU", "202505", seq="20250425103100")), supplement("202505", "00000000"))
    write(v(name("UP1KYO")), plan1())
    write(v(name("UP2KYO")), plan2())
    write(v(name("UP3KYO")), plan3())
    write(v(name("UPPLAN", "202505", seq="20250425103100")), usage())
    write(v(name("UPSIKYU", "202505", seq="20250425103100")), annex())
    jsk = [r.replace("UPPLAN", "UPJSK") for r in usage()]
    write(v(name("UPJSK", "202505", src=(PROV, "11"), dst=(CARE, "43"), seq="20250601090000")), jsk)
    write(v(name("DLT1KYO", seq="20250501090000")), [line("DLT1KYO", person("435073", "0000000001", {4: "20250420"}))])
    write(v(name("DLTPLAN", "202505", seq="20250502090000")), [
        line("DLTPLAN", person("435073", "0000000001", {4: "202505"})),
        line("DLTPLAN", person("122192", "H123456789", {4: "202505"}))])
    write(v(name("DLTJSK", "202505", src=(PROV, "11"), dst=(CARE, "43"), seq="20250602090000")), [
        line("DLTJSK", person("435073", "0000000001", {4: "202505", 5: PROV, 6: "11"}))])
    # v3.2 (202208): names without service types, 第6表 without the three 福祉用具 columns.
    write(v(f"UPPLAN_202301_{CARE}_{PROV}_20221225103000.CSV"),
          usage(month="202301", version="202208", omit=(16, 17, 18)))

    s = lambda n: os.path.join("style", n)
    write(s(name("UPPLAN", "202505", seq="20250425103200")), usage(), ending="\n", final=False)
    quoted = [r.replace(",111211,", ',"111211",').replace(",387,", ",000387,", 1) for r in usage()]
    write(s(name("UPPLAN", "202505", seq="20250425103300")), quoted)
    header = ",".join(["CSVバージョン", "保険者番号", "被保険者番号", "居宅サービス計画作成（変更）日"])
    write(s(name("DLT1KYO", seq="20250501090100")),
          [header, line("DLT1KYO", person("435073", "0000000001", {4: "20250420"}))])
    # Free text that is not quoted (a warning), and an IBM-extension duplicate byte sequence
    # (0xFA 0x54 = ¬, which the canonical encoder writes as 0x81 0xCA).
    raw = line("UP1KYO", person("435073", "0000000001", {4: "20250420", 8: "介護　支援子", 9: "センター",
               13: CARE, 14: "20250420", 15: "20250420"})).replace('"センター"', "センター")
    write(s(name("UP1KYO", seq="20250425103400")), [raw])
    ibm = raw.replace("センター", "BEFORE").encode("cp932").replace(b"BEFORE", b'"\xfa\x54"') + b"\r\n"
    with open(s(name("UP1KYO", seq="20250425103500")), "wb") as f:
        f.write(ibm)

    cases = {}
    def case(case_name, file_name, rows, expected, **kw):
        path = os.path.join("invalid", case_name, file_name)
        write(path, rows, **kw)
        with open(os.path.join("invalid", case_name, "expected.txt"), "w") as f:
            f.write("\n".join(expected) + "\n")
        cases[case_name] = expected
    plan = name("UPPLAN", "202505", seq="20250425103100")
    case("utf8", plan, usage(), ["E 1:0 WRONG_ENCODING"], encoding="utf-8")
    case("not-ms932", plan, usage(), ["E 4:7 NOT_MS932"])
    # Replace the planner name of row 4 by an invalid byte after writing.
    path = os.path.join("invalid", "not-ms932", plan)
    data = open(path, "rb").read().split(b"\r\n")
    data[3] = data[3].replace("介護".encode("cp932"), b"\xff\xfe", 1)
    open(path, "wb").write(b"\r\n".join(data))
    case("gaiji", plan, usage(), ["E 2:7 GAIJI"])
    path = os.path.join("invalid", "gaiji", plan)
    data = open(path, "rb").read().split(b"\r\n")
    data[1] = data[1].replace("支援".encode("cp932"), b"\xf0\x40", 1)
    open(path, "wb").write(b"\r\n".join(data))
    rows = usage()
    rows[1] = rows[1] + ","
    case("column-count", plan, rows, ["E 2:0 COLUMN_COUNT"])
    rows = usage()
    rows[0] = rows[0].replace('"介護　支援子"', '"介護"支援子"')
    rows.append(line("UPPLAN", {1: V4, 7: "未完"}).replace('"未完"', '"未完'))
    case("broken-row", plan, rows, ["E 1:7 TEXT_AFTER_QUOTE", "E 5:7 UNTERMINATED_QUOTE"], final=False)
    case("bad-check-digit-name", f"UPPLAN_202505_0300000100_43_0300000005_11_{SEQ}.CSV", usage(),
         ["E 0:0 BAD_CHECK_DIGIT", "E 0:0 BAD_CHECK_DIGIT"])
    rows = usage()
    rows[0] = rows[0].replace("," + PROV + ",", ",1370000027,")
    case("bad-check-digit-row", plan, rows, ["E 1:20 BAD_CHECK_DIGIT"])
    case("unknown-version", plan, [r.replace(V4, "202104", 1) for r in usage()],
         ["E 1:1 UNKNOWN_CSV_VERSION"])
    rows = usage()
    rows[2] = rows[2].replace(V4, "202504", 1)
    case("mixed-version", plan, rows, ["E 3:1 MIXED_CSV_VERSION"])
    case("version-not-in-force", f"UPPLAN_202505_{CARE}_{PROV}_20250425103000.CSV",
         usage(month="202505", version="202208", omit=(16, 17, 18))[:1], ["E 1:1 VERSION_NOT_IN_FORCE"])
    rows = usage()
    rows[0] = rows[0].replace(",20250505,", ",20250605,")
    case("date-outside-month", plan, rows, ["E 1:10 DATE_OUTSIDE_MONTH"])
    case("month-mismatch", name("UPPLAN", "202506", seq="20250425103100"), usage(),
         ["E 1:5 MONTH_MISMATCH", "E 2:5 MONTH_MISMATCH", "E 3:5 MONTH_MISMATCH", "E 4:5 MONTH_MISMATCH"])
    rows = annex()[:-1]
    case("missing-total-row", name("UPSIKYU", "202505", seq="20250425103100"), rows, ["E 5:9 TOTAL_ROW"])
    rows = annex()
    rows[2] = rows[2].replace(",11AAAA,,,,0,", ",11AAAA,,,,5,")
    case("subtotal-units", name("UPSIKYU", "202505", seq="20250425103100"), rows, ["E 3:13 SUBTOTAL_UNITS"])
    rows = supplement("000000", "20250420")
    rows[1] = rows[1].replace('"スズキ　ハナコ"', "")
    case("required-missing", name("UPHOSOKU", "000000"), rows, ["E 2:5 REQUIRED_MISSING"])
    rows = usage()
    rows[2] = rows[2].replace(",00001-000010,", ",,")
    case("equipment-code", plan, rows, ["E 3:16 EQUIPMENT_CODE_REQUIRED"])
    rows = usage()
    rows[3] = rows[3].replace(",0900,0930,", ",9999,0930,")
    case("time-pair", plan, rows, ["E 4:13 TIME_PAIR"])
    rows = usage()
    rows.insert(2, "")
    case("blank-line", plan, rows, ["E 3:0 BLANK_LINE"])
    case("empty", plan, [], ["E 0:0 EMPTY_FILE"], final=False)
    case("bad-name", "UPPLAN_2025_05.CSV", usage(), ["E 0:0 BAD_FILE_NAME"])


if __name__ == "__main__":
    main()
