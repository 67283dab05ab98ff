"""The iFC document of docs/deployment.md: well-formed, in the element order and value ranges of
the TS 29.228 Cx user data schema, and its trigger points select what the guide says."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")

# Children of each element, in schema order, as a regular expression over their tag names.
SEQUENCES = {
    "IMSSubscription": r"PrivateID (ServiceProfile )+(Extension )?",
    "ServiceProfile": (
        r"(PublicIdentity )+(CoreNetworkServicesAuthorization )?(InitialFilterCriteria )*"
        r"(Extension )?"
    ),
    "PublicIdentity": r"(BarringIndication )?Identity (Extension )?",
    "InitialFilterCriteria": (
        r"Priority (TriggerPoint )?ApplicationServer (ProfilePartIndicator )?(Extension )?"
    ),
    "TriggerPoint": r"ConditionTypeCNF (SPT )+(Extension )?",
    "SPT": (
        r"(ConditionNegated )?(Group )+"
        r"(RequestURI|Method|SIPHeader|SessionCase|SessionDescription) (Extension )?"
    ),
    "SIPHeader": r"Header (Content )?(Extension )?",
    "ApplicationServer": r"ServerName (DefaultHandling )?(ServiceInfo )?(Extension )?",
    "ApplicationServer/Extension": r"(IncludeRegisterRequest )?(IncludeRegisterResponse )?",
}
VALUES = {
    "Priority": r"\d+",
    "Group": r"\d+",
    "ConditionTypeCNF": r"[01]",
    "ConditionNegated": r"[01]",
    "SessionCase": r"[0-4]",
    "DefaultHandling": r"[01]",
    "ServerName": r"sips?:\S+",
    "Method": r"[A-Z]+",
}
EMPTY = {"IncludeRegisterRequest", "IncludeRegisterResponse"}


def ifc_document() -> ET.Element:
    blocks = re.findall(r"```xml\n(.*?)```", GUIDE, re.DOTALL)
    assert len(blocks) == 1
    return ET.fromstring(blocks[0].encode("utf-8"))


def check(element: ET.Element, parent: str = "") -> None:
    key = f"{parent}/{element.tag}" if f"{parent}/{element.tag}" in SEQUENCES else element.tag
    children = list(element)
    if key in SEQUENCES:
        tags = "".join(child.tag + " " for child in children)
        assert re.fullmatch(SEQUENCES[key], tags), f"{key}: children {tags!r}"
        for child in children:
            check(child, element.tag)
    elif element.tag in EMPTY:
        assert not children and not (element.text or "").strip(), element.tag
    else:
        assert not children, f"{element.tag} is a leaf"
        text = (element.text or "").strip()
        assert text, f"{element.tag} is empty"
        if element.tag in VALUES:
            assert re.fullmatch(VALUES[element.tag], text), f"{element.tag}: {text!r}"


def test_the_ifc_document_follows_the_schema() -> None:
    document = ifc_document()
    assert document.tag == "IMSSubscription"
    check(document)


def matches(ifc: ET.Element, method: str, headers: dict[str, str], case: int) -> bool:
    """TS 29.228 trigger point semantics: CNF = AND of ORed groups, DNF = OR of ANDed groups."""
    point = ifc.find("TriggerPoint")
    assert point is not None
    groups: dict[str, list[bool]] = {}
    for spt in point.findall("SPT"):
        if (element := spt.find("Method")) is not None:
            hit = element.text == method
        elif (element := spt.find("SessionCase")) is not None:
            hit = int(element.text or "") == case
        elif (element := spt.find("SIPHeader")) is not None:
            value = headers.get(element.findtext("Header") or "")
            content = element.findtext("Content")
            hit = value is not None and (content is None or re.search(content, value) is not None)
        else:
            raise AssertionError("an SPT the guide does not use")
        hit = hit != (spt.findtext("ConditionNegated") == "1")
        for group in spt.findall("Group"):
            groups.setdefault(group.text or "", []).append(hit)
    if point.findtext("ConditionTypeCNF") == "1":
        return all(any(hits) for hits in groups.values())
    return any(all(hits) for hits in groups.values())


SMS = {"Content-Type": "application/vnd.3gpp.sms"}
TEXT = {"Content-Type": "text/plain"}


@pytest.mark.parametrize(
    ("method", "headers", "case", "fired"),
    [
        ("MESSAGE", SMS, 0, [10]),  # MO SMS, or the UE's RP-ACK to an MT
        ("MESSAGE", SMS, 1, []),  # our own MT towards the UE: not back to us
        ("MESSAGE", TEXT, 0, []),  # pager-mode chat is not ours
        ("INVITE", SMS, 0, []),
        ("REGISTER", {}, 0, [20]),
    ],
)
def test_the_trigger_points_select_what_the_guide_says(
    method: str, headers: dict[str, str], case: int, fired: list[int]
) -> None:
    ifcs = ifc_document().findall("ServiceProfile/InitialFilterCriteria")
    assert len(ifcs) == 2
    assert [
        int(ifc.findtext("Priority") or "") for ifc in ifcs if matches(ifc, method, headers, case)
    ] == fired


def test_register_continues_and_message_terminates_when_the_smsc_is_down() -> None:
    handling = {
        ifc.findtext("TriggerPoint/SPT/Method"): ifc.findtext("ApplicationServer/DefaultHandling")
        for ifc in ifc_document().findall("ServiceProfile/InitialFilterCriteria")
    }
    assert handling == {"MESSAGE": "1", "REGISTER": "0"}
