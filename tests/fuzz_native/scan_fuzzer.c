/*
 * libFuzzer target for the C scanner core (smsc/sip/_scan_core.c), built with ASan and UBSan by
 * run.sh: both scanners on every input, with room for too few spans and then enough, and the
 * invariants of what they return (every span inside the buffer, and where scan.py says it is).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "_scan_core.h"

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "scan_fuzzer: invariant broken at line %d: %s\n", __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#define FEW 2 /* small enough that MO_MESSAGE (two Vias, two identities) needs SCAN_ROOM */

/* The span lies inside data[0 .. len). */
static void inside(scan_span s, size_t len)
{
    CHECK(s.off <= len && s.len <= len - s.off);
}

/* `inner` lies inside `outer`. */
static void within(scan_span inner, scan_span outer)
{
    CHECK(inner.off >= outer.off && inner.off + inner.len <= outer.off + outer.len);
}

static int starts_with(const uint8_t *d, scan_span s, const char *text)
{
    size_t n = strlen(text);
    return s.len >= n && memcmp(d + s.off, text, n) == 0;
}

static int has_line_break(const uint8_t *d, scan_span s)
{
    return memchr(d + s.off, '\r', s.len) != NULL || memchr(d + s.off, '\n', s.len) != NULL;
}

/* What scan_message_core gives, checked against the buffer. */
static void check_message_result(const uint8_t *d, size_t len, const scan_message_result *r,
                                 const scan_span *spans)
{
    scan_span spans_of[9] = {r->uri, r->branch, r->host, r->from, r->to, r->call_id, r->cseq,
                             r->access_network_info, r->body};
    for (size_t i = 0; i < 9; i++)
        inside(spans_of[i], len);
    CHECK(r->vias >= 1 && r->needed == r->vias + r->asserted);
    CHECK(r->body.off >= 4 && r->body.off + r->body.len == len);
    CHECK(memcmp(d + r->body.off - 4, "\r\n\r\n", 4) == 0);
    for (size_t i = 0; i + 4 < r->body.off; i++)
        CHECK(d[i] < 0x80);
    CHECK(r->uri.off == 8 && memcmp(d, "MESSAGE ", 8) == 0 && r->uri.len > 0);
    CHECK(memcmp(d + r->uri.off + r->uri.len, " SIP/2.0\r\n", 10) == 0);
    CHECK(r->port <= 65535 && (!r->rport || r->has_rport) && r->host.len > 0);
    for (size_t i = 0; i < r->needed; i++) {
        inside(spans[i], len);
        CHECK(spans[i].off + spans[i].len < r->body.off && !has_line_break(d, spans[i]));
    }
    within(r->branch, spans[0]);
    within(r->host, spans[0]);
    CHECK(starts_with(d, r->branch, "z9hG4bK") && starts_with(d, spans[0], "SIP/2.0/UDP "));
    for (size_t i = r->vias; i < r->needed; i++) {
        CHECK(spans[i].off >= 1 && d[spans[i].off - 1] == '<' && d[spans[i].off + spans[i].len] == '>');
        (void)scan_plain_uri(d, spans[i]);
    }
}

/* scan_message_core with too little room, then with enough; both say the same. */
static int check_message(const uint8_t *d, size_t len, size_t max_headers)
{
    scan_span few[FEW];
    scan_message_result r, again;
    int status = scan_message_core(d, len, max_headers, few, FEW, &r);
    CHECK(status == SCAN_OK || status == SCAN_NO || status == SCAN_ROOM || status == SCAN_NOMEM);
    if (status == SCAN_OK) {
        CHECK(r.needed <= FEW);
        check_message_result(d, len, &r, few);
    }
    if (status != SCAN_OK && status != SCAN_ROOM)
        return status;
    CHECK(status == SCAN_OK || r.needed > FEW);
    scan_span *spans = malloc(sizeof *spans * r.needed);
    CHECK(spans != NULL);
    int second = scan_message_core(d, len, max_headers, spans, r.needed, &again);
    CHECK(second == SCAN_OK && again.needed == r.needed && again.vias == r.vias);
    check_message_result(d, len, &again, spans);
    if (status == SCAN_OK)
        CHECK(memcmp(spans, few, sizeof *spans * r.needed) == 0);
    free(spans);
    return SCAN_OK;
}

/* What scan_response_core gives, checked against the buffer. */
static int check_response(const uint8_t *d, size_t len, size_t max_headers)
{
    scan_response_result r;
    int status = scan_response_core(d, len, max_headers, &r);
    CHECK(status == SCAN_OK || status == SCAN_NO || status == SCAN_NOMEM);
    if (status != SCAN_OK)
        return status;
    inside(r.branch, len);
    inside(r.method, len);
    CHECK(r.status >= 100 && r.status <= 699 && memcmp(d, "SIP/2.0 ", 8) == 0);
    CHECK(starts_with(d, r.branch, "z9hG4bK") && r.method.len > 0);
    for (size_t i = 0; i < r.method.len; i++)
        CHECK((d[r.method.off + i] | 0x20) >= 'a' && (d[r.method.off + i] | 0x20) <= 'z');
    return SCAN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A scan that fits a header limit fits every larger one. */
    size_t small = size > 0 ? data[0] % 16 : 0;
    int message = check_message(data, size, small);
    CHECK(message != SCAN_OK || check_message(data, size, SIZE_MAX) == SCAN_OK);
    check_message(data, size, 70);
    int response = check_response(data, size, small);
    CHECK(response != SCAN_OK || check_response(data, size, SIZE_MAX) == SCAN_OK);
    check_response(data, size, 70);
    scan_span all = {0, size};
    (void)scan_plain_uri(data, all);
    return 0;
}
