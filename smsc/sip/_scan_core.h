/*
 * The parser's fast case (smsc/sip/scan.py) in plain C, without Python: one pass over a UDP
 * MESSAGE or response in the common shape (RFC 3261 §7, §20), giving offsets into the buffer.
 *
 * Every function here decides exactly as its Python twin does; smsc/sip/_scan.c turns the
 * offsets into the same Python objects, and tests/fuzz_native/ fuzzes this file alone.
 */
#ifndef SMSC_SIP_SCAN_CORE_H
#define SMSC_SIP_SCAN_CORE_H

#include <stddef.h>

/* What a scan says. */
enum scan_status {
    SCAN_OK = 0,    /* the common shape: the result is filled in */
    SCAN_NO = 1,    /* anything else: the general parser reads it */
    SCAN_ROOM = 2,  /* the common shape, but `spans` was too small: call again with `needed` */
    SCAN_NOMEM = 3  /* out of memory (a Via with very many parameters) */
};

/* A run of bytes of the scanned buffer. */
typedef struct {
    size_t off;
    size_t len;
} scan_span;

/* A MESSAGE read by scan_message_core; the fields of scan.ScannedMessage. */
typedef struct {
    scan_span uri;
    scan_span branch;
    scan_span host;     /* as received: the caller lower-cases it */
    scan_span from;
    scan_span to;
    scan_span call_id;
    scan_span cseq;
    scan_span access_network_info;  /* only when has_access_network_info */
    scan_span body;
    unsigned port;
    int rport;      /* the top Via has an empty rport parameter (RFC 3581 §4) */
    int has_rport;  /* the top Via has an rport parameter */
    int has_access_network_info;
    size_t vias;      /* Via values in spans[0 .. vias) */
    size_t asserted;  /* P-Asserted-Identity URIs (inside <>) in spans[vias .. vias + asserted) */
    size_t needed;    /* vias + asserted, the room SCAN_ROOM asks for */
} scan_message_result;

/* A response read by scan_response_core; the fields of scan.ScannedResponse. */
typedef struct {
    unsigned status;
    scan_span branch;
    scan_span method;
} scan_response_result;

/*
 * scan.scan_message: a MESSAGE over UDP in the common shape, read from data[0 .. len).
 * `spans` has room for `room` spans (it may be NULL when room is 0).
 */
int scan_message_core(const unsigned char *data, size_t len, size_t max_headers,
                      scan_span *spans, size_t room, scan_message_result *out);

/* scan.scan_response: a response with one Via line in the shape the SMSC sends. */
int scan_response_core(const unsigned char *data, size_t len, size_t max_headers,
                       scan_response_result *out);

/*
 * 1 when smsc.sip.headers.parse_uri(text).raw is the text itself without error, for a plain
 * "tel:", "sip:" or "sips:" URI; 0 when only parse_uri can tell (RFC 3261 §19.1, RFC 3966).
 */
int scan_plain_uri(const unsigned char *data, scan_span text);

#endif
