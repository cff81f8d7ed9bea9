#!/usr/bin/env python3
"""The calls the pod test makes through the gateway, as `kaigo bench` configs (one call each).

    python3 scripts/image/calls.py OUT_DIR

Writes, in order (NN-name.json, with the role `kaigo token` mints the call's token for in
NN-name.role):
  01 UpsertInsuredPerson   insurer 435073 registers 0000800011 (as services/kaigo/tests/cli/flows.rs)
  02 CheckEligibility      insurer 435073 asks about that person
  03 SubmitApplication     a 新規 application dated ten days ago (certification checks the
                           applicant against eligibility: a call between two pods)
  04 RegisterLicence       care office 1370000018 (as careplan_flow.rs)
  05 RegisterLicence       service provider 1370000026
  06 SendBundle            the office sends the golden UPPLAN/UPSIKYU/UPHOSOKU bundle to the provider
The request_ids are fresh UUIDs; `kaigo bench --total 1` sends each config's one request.
"""

import base64
import datetime
import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "services" / "careplan" / "tests" / "golden" / "valid"
INSURER, INSURED = "435073", "0000800011"
CARE, PROV, SEQ = "1370000018", "1370000026", "20250425103100"


def date(d):
    return {"year": d.year, "month": d.month, "day": d.day}


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    jst_today = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=9)).date()
    tail = f"{CARE}_43_{PROV}_11_{SEQ}.CSV"
    files = [f"{kind}_202505_{tail}" for kind in ("UPPLAN", "UPSIKYU", "UPHOSOKU")]
    calls = [
        ("upsert-insured-person", f"insurer --insurer {INSURER}", "kaigo.eligibility.v1.EligibilityService.UpsertInsuredPerson", {
            "request_id": str(uuid.uuid4()),
            "expected_version": 0,
            "person": {
                "insurer_number": INSURER, "insured_number": INSURED,
                "name_kanji": "介護 花子", "name_kana": "カイゴ ハナコ",
                "birth_date": {"year": 1950, "month": 5, "day": 3},
                "sex": "SEX_FEMALE", "insured_category": "INSURED_CATEGORY_FIRST",
                "qualification_acquired_date": {"year": 2020, "month": 4, "day": 1},
            },
        }),
        ("check-eligibility", f"insurer --insurer {INSURER}", "kaigo.eligibility.v1.EligibilityService.CheckEligibility", {
            "insurer_number": INSURER, "insured_number": INSURED,
        }),
        ("submit-application", f"insurer --insurer {INSURER}", "kaigo.certification.v1.CertificationService.SubmitApplication", {
            "request_id": str(uuid.uuid4()),
            "application": {
                "insurer_number": INSURER, "insured_number": INSURED,
                "type": "APPLICATION_TYPE_NEW",
                "application_date": date(jst_today - datetime.timedelta(days=10)),
                "applicant": {"kind": "APPLICANT_KIND_FAMILY", "family_member_name": "山田 花子", "family_relationship": "長女"},
                "insured_category": "INSURED_CATEGORY_FIRST",
            },
        }),
        ("register-licence-office", f"care_office --office {CARE}", "kaigo.careplan.v1.CarePlanService.RegisterLicence", {
            "request_id": str(uuid.uuid4()), "office_number": CARE,
        }),
        ("register-licence-provider", f"service_provider --office {PROV}", "kaigo.careplan.v1.CarePlanService.RegisterLicence", {
            "request_id": str(uuid.uuid4()), "office_number": PROV,
        }),
        ("send-bundle", f"care_office --office {CARE}", "kaigo.careplan.v1.CarePlanService.SendBundle", {
            "request_id": str(uuid.uuid4()),
            "bundle": {
                "sender_office_number": CARE, "sender_service_type": "43",
                "receiver_office_number": PROV, "receiver_service_type": "11",
                "service_month": {"year": 2025, "month": 5},
                "kind": "SEND_UNIT_KIND_USAGE_TICKET", "file_sequence": SEQ,
            },
            "files": [{"file_name": f, "content": base64.b64encode((GOLDEN / f).read_bytes()).decode()} for f in files],
        }),
    ]
    for i, (name, role, call, data) in enumerate(calls, 1):
        config = {
            "name": name, "call": call, "insecure": True, "total": 1, "concurrency": 1, "connections": 1,
            "timeout": "20s", "data": [data], "metadata": {"authorization": "Bearer ${KAIGO_TOKEN}"},
        }
        (out / f"{i:02d}-{name}.json").write_text(json.dumps(config, ensure_ascii=False, indent=1) + "\n")
        (out / f"{i:02d}-{name}.role").write_text(role + "\n")


if __name__ == "__main__":
    main()
