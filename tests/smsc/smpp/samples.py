"""Byte-exact PDUs built by hand from the SMPP 3.4 §4 layouts, with the values they carry.

Each hex string is laid out field by field (header first: command_length, command_id,
command_status, sequence_number); the bind_transmitter uses the values of the spec's own
example (system_id "SMPP3TEST", password "secret08", system_type "SUBMIT1").
"""

from __future__ import annotations

from smsc.smpp import pdu as p

MSISDN = "34343737303039303031323300"  # "447700900123" NUL
MSISDN_2 = "34343737303039303039393900"  # "447700900999" NUL
MY_BANK = "4d7942616e6b00"  # "MyBank" NUL
MESSAGE_ID = "3031323334353637383900"  # "0123456789" NUL


def _hex(*fields: str) -> bytes:
    return bytes.fromhex("".join(fields).replace(" ", ""))


VECTORS: list[tuple[str, bytes, p.Pdu]] = [
    (
        "enquire_link",
        _hex("00000010 00000015 00000000 00000001"),
        p.EnquireLink(sequence_number=1),
    ),
    (
        "bind_transmitter (§4.1.1, the spec's example values)",
        _hex(
            "0000002f 00000002 00000000 00000001",
            "534d50503354455354 00",  # system_id "SMPP3TEST"
            "7365637265743038 00",  # password "secret08"
            "5355424d495431 00",  # system_type "SUBMIT1"
            "34",  # interface_version 3.4
            "01 01",  # addr_ton international, addr_npi ISDN
            "00",  # address_range ""
        ),
        p.BindTransmitter(
            system_id="SMPP3TEST",
            password="secret08",
            system_type="SUBMIT1",
            interface_version=0x34,
            addr_ton=1,
            addr_npi=1,
            sequence_number=1,
        ),
    ),
    (
        "bind_transmitter_resp with sc_interface_version",
        _hex("0000001a 80000002 00000000 00000001", "534d534300", "0210 0001 34"),
        p.BindTransmitterResp(system_id="SMSC", tlvs=((0x0210, b"\x34"),), sequence_number=1),
    ),
    (
        "bind_receiver_resp ESME_RINVPASWD, no body (§4.1.4)",
        _hex("00000010 80000001 0000000e 00000001"),
        p.BindReceiverResp(command_status=0x0E, sequence_number=1),
    ),
    (
        "submit_sm from an alphanumeric sender",
        _hex(
            "00000038 00000004 00000000 00000002",
            "00",  # service_type ""
            "05 00",  # source TON alphanumeric, NPI unknown
            MY_BANK,
            "01 01",  # dest TON international, NPI ISDN
            MSISDN,
            "00 00 00",  # esm_class, protocol_id, priority_flag
            "00 00",  # schedule_delivery_time "", validity_period ""
            "01 00 00 00",  # registered_delivery, replace_if_present, data_coding, default id
            "05 48656c6c6f",  # sm_length 5, "Hello"
        ),
        p.SubmitSm(
            source_addr_ton=5,
            source_addr="MyBank",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900123",
            registered_delivery=1,
            short_message=b"Hello",
            sequence_number=2,
        ),
    ),
    (
        "submit_sm_resp",
        _hex("0000001b 80000004 00000000 00000002", MESSAGE_ID),
        p.SubmitSmResp(message_id="0123456789", sequence_number=2),
    ),
    (
        "submit_sm_resp ESME_RTHROTTLED, no body (§4.4.2)",
        _hex("00000010 80000004 00000058 00000003"),
        p.SubmitSmResp(command_status=0x58, sequence_number=3),
    ),
    (
        "deliver_sm delivery receipt with receipted_message_id and message_state",
        _hex(
            "00000061 00000005 00000000 0000000a",
            "00",
            "01 01",
            MSISDN,
            "05 00",
            MY_BANK,
            "04 00 00",  # esm_class SMSC delivery receipt
            "00 00",
            "00 00 00 00",
            "1a 69643a30313233343536373839 20737461743a44454c49565244",  # "id:... stat:DELIVRD"
            "001e 000b",
            MESSAGE_ID,  # receipted_message_id
            "0427 0001 02",  # message_state DELIVERED
        ),
        p.DeliverSm(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            dest_addr_ton=5,
            destination_addr="MyBank",
            esm_class=4,
            short_message=b"id:0123456789 stat:DELIVRD",
            tlvs=((0x001E, b"0123456789\0"), (0x0427, b"\x02")),
            sequence_number=10,
        ),
    ),
    (
        "deliver_sm_resp",
        _hex("00000011 80000005 00000000 0000000a 00"),
        p.DeliverSmResp(sequence_number=10),
    ),
    (
        "data_sm with message_payload and source_port",
        _hex(
            "0000003e 00000103 00000000 00000005",
            "00",
            "01 01",
            MSISDN,
            "01 01",
            MSISDN_2,
            "00 00 04",  # esm_class, registered_delivery, data_coding octet unspecified
            "0424 0002 4869",  # message_payload "Hi"
            "020a 0002 0b84",  # source_port 2948
        ),
        p.DataSm(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900999",
            data_coding=4,
            tlvs=((0x0424, b"Hi"), (0x020A, b"\x0b\x84")),
            sequence_number=5,
        ),
    ),
    (
        "query_sm_resp with final_date",
        _hex(
            "0000002e 80000003 00000000 00000004",
            MESSAGE_ID,
            "32 34 30 31 30 32 31 35 33 30 30 30 30 30 34 2b 00",  # final_date "240102153000004+"
            "02 00",  # message_state DELIVERED, error_code 0
        ),
        p.QuerySmResp(
            message_id="0123456789",
            final_date="240102153000004+",
            message_state=2,
            sequence_number=4,
        ),
    ),
    (
        "unbind",
        _hex("00000010 00000006 00000000 00000009"),
        p.Unbind(sequence_number=9),
    ),
    (
        "unbind_resp",
        _hex("00000010 80000006 00000000 00000009"),
        p.UnbindResp(sequence_number=9),
    ),
    (
        "generic_nack ESME_RINVCMDID",
        _hex("00000010 80000000 00000003 00000007"),
        p.GenericNack(command_status=3, sequence_number=7),
    ),
    (
        "submit_multi to an SME and a distribution list",
        _hex(
            "00000040 00000021 00000000 00000006",
            "00",
            "05 00",
            MY_BANK,
            "02",  # number_of_dests
            "01 01 01",  # dest_flag SME address, TON, NPI
            MSISDN,
            "02 667269656e647300",  # dest_flag distribution list, "friends"
            "00 00 00",
            "00 00",
            "00 00 00 00",
            "02 4869",
        ),
        p.SubmitMulti(
            source_addr_ton=5,
            source_addr="MyBank",
            dest_addresses=(p.SmeAddress(1, 1, "447700900123"), p.DistributionList("friends")),
            short_message=b"Hi",
            sequence_number=6,
        ),
    ),
    (
        "submit_multi_resp with one unsuccessful destination",
        _hex("00000025 80000021 00000000 00000006", "00", "01", "01 01", MSISDN_2, "0000000b"),
        p.SubmitMultiResp(
            unsuccess_smes=(p.UnsuccessSme(1, 1, "447700900999", 0x0B),), sequence_number=6
        ),
    ),
    (
        "alert_notification with ms_availability_status",
        _hex(
            "0000002d 00000102 00000000 00000008", "01 01", MSISDN, "05 00", MY_BANK, "0422 0001 00"
        ),
        p.AlertNotification(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            esme_addr_ton=5,
            esme_addr="MyBank",
            tlvs=((0x0422, b"\x00"),),
            sequence_number=8,
        ),
    ),
    (
        "cancel_sm",
        _hex("0000002e 00000008 00000000 0000000b", "00", MESSAGE_ID, "01 01", MSISDN, "00 00 00"),
        p.CancelSm(
            message_id="0123456789",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            sequence_number=11,
        ),
    ),
    (
        "cancel_sm_resp",
        _hex("00000010 80000008 00000000 0000000b"),
        p.CancelSmResp(sequence_number=11),
    ),
    (
        "replace_sm with a relative validity_period",
        _hex(
            "00000042 00000007 00000000 0000000c",
            MESSAGE_ID,
            "01 01",
            MSISDN,
            "00",  # schedule_delivery_time ""
            "30303030303130303030303030303052 00",  # validity_period "000001000000000R"
            "01 00",  # registered_delivery, sm_default_msg_id
            "03 427965",  # "Bye"
        ),
        p.ReplaceSm(
            message_id="0123456789",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            validity_period="000001000000000R",
            registered_delivery=1,
            short_message=b"Bye",
            sequence_number=12,
        ),
    ),
    (
        "outbind",
        _hex("00000018 0000000b 00000000 00000001", "534d534300", "707700"),
        p.Outbind(system_id="SMSC", password="pw", sequence_number=1),
    ),
]
